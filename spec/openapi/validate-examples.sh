#!/usr/bin/env bash
# Renders every example (runner.lua + job.json under examples/) with the real
# lunar binary and validates each object against the Kubernetes OpenAPI schema.
# usage: validate-examples.sh path/to/lunar
set -euo pipefail
lunar=${1:?usage: validate-examples.sh path/to/lunar}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ ! -d "$here/node_modules/kubernetes-models" ]; then
  echo "the OpenAPI validator is not installed: run scripts/deps.sh (npm ci in spec/openapi)" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
args=()
status=0
for dir in "$root"/examples/*/; do
  name=$(basename "$dir")
  [ -f "$dir/runner.lua" ] && [ -f "$dir/job.json" ] || continue
  if ! "$lunar" render --all "$dir/runner.lua" "$dir/job.json" > "$out/$name.json" 2> "$out/$name.err"; then
    echo "FAIL examples/$name: lunar render failed:"
    sed 's/^/  /' "$out/$name.err"
    status=1
    continue
  fi
  args+=("$out/$name.json=examples/$name")
done
if [ ${#args[@]} -eq 0 ]; then
  echo "no example rendered" >&2
  exit 1
fi
node "$here/validate.mjs" "${args[@]}" || status=1
exit $status
