#!/usr/bin/env bash
# The include order of core/: every arrow points down.
#
# A file may include headers of its own unit and of units on a lower level;
# units on the same level do not include each other. A unit is a folder of
# core/, except the files named in ROOT, which form the unit `lunar` (the Lua
# module's root: it gathers every Lua face, lunar.run among them, so it sits
# above the runner), and core/main.c (`main`). A folder that is not in the
# order fails the check until it is given a level.
#
#   0  util                              depends on nothing of lunar
#   1  json yaml toml                    data formats (jansson values)
#   2  loop trace                        the event loop; the job trace buffer
#   3  kube patch pod metrics gitlab     the Kubernetes and GitLab clients, patches, the Pod builder
#   4  bind                              the Lua-facing C: lunar.* faces, lunar_call, the sandbox,
#                                        the runner's Lua entry (bind/entry.h)
#   5  runner                            `lunar run` (calls Lua through bind/entry.h only)
#   6  lunar = bind/module.c bind/run.c  luaopen_lunar and lunar.run
#   7  main                              the executable
#
# usage: spec/layout/includes.sh [CORE_DIR]    (default: core)
#        spec/layout/includes.sh --self-test   (the check fails on an upward include)
set -euo pipefail

declare -A LEVEL=(
  [util]=0
  [json]=1 [yaml]=1 [toml]=1
  [loop]=2 [trace]=2
  [kube]=3 [patch]=3 [pod]=3 [metrics]=3 [gitlab]=3
  [bind]=4
  [runner]=5
  [lunar]=6
  [main]=7
)
ROOT="bind/module bind/run"

# Sets UNIT to the unit of a path relative to core/ ("kube/client.h" -> kube).
unit_of() {
  local stem=${1%.*} r
  for r in $ROOT; do [ "$stem" = "$r" ] && { UNIT=lunar; return; }; done
  UNIT=${stem%%/*}
}

check() {
  local core=$1 bad=0 f rel from inc target to
  while IFS= read -r f; do
    rel=${f#"$core"/}
    unit_of "$rel"
    from=$UNIT
    if [ -z "${LEVEL[$from]+set}" ]; then
      echo "core/$rel: unit '$from' has no level in spec/layout/includes.sh" >&2
      bad=1
      continue
    fi
    while IFS= read -r inc; do
      case $inc in */*) target=$inc ;; *) target=${rel%/*}/$inc ;; esac
      [ "$rel" = "${rel#*/}" ] && target=$inc # a file at the top of core/
      unit_of "$target"
      to=$UNIT
      [ "$to" = "$from" ] && continue
      if [ -z "${LEVEL[$to]+set}" ]; then
        echo "core/$rel: includes \"$inc\" of unit '$to', which has no level" >&2
        bad=1
      elif [ "${LEVEL[$to]}" -ge "${LEVEL[$from]}" ]; then
        echo "core/$rel: includes \"$inc\": $from (level ${LEVEL[$from]}) may not include $to (level ${LEVEL[$to]})" >&2
        bad=1
      fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
  done < <(find "$core" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.inc' \) | sort)
  return $bad
}

if [ "${1:-}" = "--self-test" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/util" "$tmp/kube" "$tmp/bind" "$tmp/runner"
  printf '#include "util/error.h"\n' > "$tmp/kube/ok.c"
  printf '#include "runner/runner.h"\n#include "bind/entry.h"\n' > "$tmp/bind/run.c"
  check "$tmp" || { echo "self-test: a downward tree was refused" >&2; exit 1; }
  for up in 'kube/a.c:bind/call.h' 'bind/entry.c:bind/module.h' 'kube/b.c:gitlab/client.h' \
            'util/c.h:kube/config.h' 'newdir/d.c:util/error.h'; do
    mkdir -p "$tmp/$(dirname "${up%%:*}")"
    printf '#include "%s"\n' "${up#*:}" > "$tmp/${up%%:*}"
    if check "$tmp" 2>/dev/null; then echo "self-test: ${up/:/ including } passed the check" >&2; exit 1; fi
    rm "$tmp/${up%%:*}"
  done
  echo "self-test: upward, sideways and undeclared includes are refused"
  exit 0
fi

core=${1:-core}
if check "$core"; then
  echo "core/: every include points down the declared order"
else
  echo "core/: includes against the order above (spec/layout/includes.sh)" >&2
  exit 1
fi
