#!/usr/bin/env bash
# Long fuzzing runs (`make fuzz`): builds the fuzz targets under ASan+UBSan with
# the core instrumented for coverage (build-fuzz/), then runs each target in
# turn, niced, for FUZZ_SECONDS seconds, coverage-guided from its committed
# corpus. Inputs that reached new code are kept in build-fuzz/corpus-new/<name>/
# (copy the interesting ones into spec/fuzz/corpus/<name>/); a failing input is
# written to build-fuzz/fuzz-failures/ and that target stops (the others go on).
#   FUZZ_SECONDS=600 FUZZ_TARGETS="yaml patch_json" FUZZ_SEED=7 make fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
SEED=${FUZZ_SEED:-$(date +%s)}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DLUNAR_SANITIZE=ON -DLUNAR_FUZZ_COVERAGE=ON >/dev/null
nice cmake --build "$BUILD" --target fuzz-targets -j "${JOBS:-$(nproc)}"
targets=${FUZZ_TARGETS:-$(cd spec/fuzz && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$BUILD/fuzz-failures"
failed=()
for t in $targets; do
  mkdir -p "$BUILD/corpus-new/$t"
  dict=()
  [ -f "spec/fuzz/$t.dict" ] && dict=(-dict="spec/fuzz/$t.dict")
  nice "$BUILD/fuzz_$t" -seconds="$SECONDS_EACH" -seed="$SEED" -timeout=10 "${dict[@]}" \
    -artifact_prefix="$BUILD/fuzz-failures/$t-" -save="$BUILD/corpus-new/$t" \
    "spec/fuzz/corpus/$t" "$BUILD/corpus-new/$t" || failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in ${failed[*]} (inputs in $BUILD/fuzz-failures/)" >&2
  exit 1
fi
