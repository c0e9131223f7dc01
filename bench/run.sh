#!/usr/bin/env bash
# `make bench`: lunar's benchmarks (not part of `make test`). Timings depend
# on the machine; the README records a run with the date and the machine.
# usage: bench/run.sh path/to/lunar
set -euo pipefail
lunar=${1:?usage: bench/run.sh path/to/lunar}
root=$(cd "$(dirname "$0")/.." && pwd)
echo "== Pod render (policies, overwrites, builder, pod_spec entries), per example"
"$lunar" lua "$root/bench/render.lua" "${RENDER_N:-5000}"
echo
echo "== Job lifecycle against the test doubles (scripted containers), ${LIFECYCLE_N:-200} concurrent jobs"
LUNAR_SOURCE_DIR="$root" LUNAR_BIN="$lunar" LUA_PATH="$root/lua/?.lua;$root/spec/lua/?.lua;$root/?.lua;;" \
  "$lunar" lua "$root/bench/lifecycle.lua" "${LIFECYCLE_N:-200}"
