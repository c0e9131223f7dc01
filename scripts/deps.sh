#!/usr/bin/env bash
# Installs what lunar needs to build and test, and nothing that is already there.
# Debian packages through apt-get (as root, or through sudo); npm packages of the
# schema validator through npm ci. Safe to run again: it only acts on what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# package -> a file or command that proves it is installed
declare -A probe=(
  [cmake]=cmd:cmake [gcc]=cmd:gcc [make]=cmd:make [pkg-config]=cmd:pkg-config
  [lua5.4]=cmd:lua5.4 [liblua5.4-dev]=pc:lua5.4 [libcurl4-openssl-dev]=pc:libcurl
  [libjansson-dev]=pc:jansson [libyaml-dev]=pc:yaml-0.1 [libssl-dev]=pc:openssl
  [libpcre2-dev]=pc:libpcre2-8 [g++]=cmd:g++ [libtomlplusplus-dev]=pc:tomlplusplus
  [lua-busted]=file:/usr/share/lua/5.4/busted/runner.lua [python3]=cmd:python3
  [git]=cmd:git [openssl]=cmd:openssl [util-linux]=cmd:unshare [curl]=cmd:curl
  [nodejs]=cmd:node [npm]=cmd:npm [prometheus]=cmd:promtool
)

missing=()
for pkg in "${!probe[@]}"; do
  kind=${probe[$pkg]%%:*} what=${probe[$pkg]#*:}
  case $kind in
    cmd) command -v "$what" >/dev/null 2>&1 || missing+=("$pkg") ;;
    pc) pkg-config --exists "$what" 2>/dev/null || missing+=("$pkg") ;;
    file) [ -e "$what" ] || missing+=("$pkg") ;;
  esac
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Kubernetes OpenAPI schema validator used by the example tests.
if [ -f spec/openapi/package.json ] && [ ! -d spec/openapi/node_modules ]; then
  echo "deps: installing the OpenAPI validator (npm ci)"
  (cd spec/openapi && npm ci --no-audit --no-fund --loglevel=error)
fi
