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
echo "== Log path (the trace: masking, UTF-8 repair, CRC-32), one core"
"$(dirname "$lunar")/lunar_bench_log_path" "${LOG_MB:-200}"
echo
echo "== Pod watch: one event of a running job's Pod, parsed whole or without spec and managedFields"
event=$(mktemp)
LUA_PATH="$root/lua/?.lua;$root/spec/lua/?.lua;;" LUNAR_SOURCE_DIR="$root" "$lunar" lua "$root/bench/watch_event.lua" > "$event"
"$(dirname "$lunar")/lunar_bench_watch_event" "$event"
rm -f "$event"
echo
echo "== Job lifecycle against the test doubles (scripted containers), ${LIFECYCLE_N:-200} concurrent jobs"
LUNAR_SOURCE_DIR="$root" LUNAR_BIN="$lunar" LUA_PATH="$root/lua/?.lua;$root/spec/lua/?.lua;$root/?.lua;;" \
  "$lunar" lua "$root/bench/lifecycle.lua" "${LIFECYCLE_N:-200}"
