# Thin wrapper over CMake. `make` builds, `make test` installs what is missing,
# builds and runs every test (also once under ASan+UBSan), `make demo` runs the demo.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
MAKEFLAGS += --no-print-directory

.PHONY: all deps build test test-fast test-asan fuzz demo bench docs clean

all: build

deps:
	@bash scripts/deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Every test, then the C unit tests and busted specs again under the sanitizers.
test: deps
	@$(MAKE) --no-print-directory test-fast test-asan

test-fast: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLUNAR_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# Long fuzzing runs, coverage-guided, under ASan+UBSan (build-fuzz/):
# FUZZ_SECONDS per target (default 60), FUZZ_TARGETS to pick some.
fuzz:
	@bash scripts/fuzz.sh

demo: deps build
	@bash scripts/demo.sh $(BUILD)/lunar

# The README's settings and overwrite tables, from lua/lunar/settings.lua
# (spec/settings fails when they are stale).
docs: build
	@$(BUILD)/lunar lua scripts/gen-settings-doc.lua README.md

bench: build
	@bash bench/run.sh $(BUILD)/lunar

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
