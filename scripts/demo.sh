#!/usr/bin/env bash
# `make demo`: a real `lunar run` process runs a sample pipeline (a job that
# clones, a job with a service, a job that uploads an artifact, a failing job)
# end to end against the bundled GitLab and Kubernetes test doubles, printing
# each job's trace and final state (see scripts/demo.lua).
# usage: demo.sh path/to/lunar
set -euo pipefail
lunar=$(cd "$(dirname "${1:?usage: demo.sh path/to/lunar}")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export LUNAR_SOURCE_DIR="$root" LUNAR_BIN="$lunar"
export LUA_PATH="$root/lua/?.lua;$root/spec/lua/?.lua;$root/?.lua;;"
exec "$lunar" lua "$root/scripts/demo.lua"
