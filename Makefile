# Short verbs over CMake. `make run` and `make test` install missing Debian packages first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all build build-asan deps run test test-fast node-deps bench bench-path1 bench-simulate bench-pd format clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/Makefile:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWP_SANITIZE=ON $(CMAKE_ARGS)

build-asan: $(ASAN_BUILD)/Makefile
	cmake --build $(ASAN_BUILD) -j $(JOBS)

run: deps build
	./$(BUILD)/wellpath up

node-deps:
	@cd tests/e2e && { [ -d node_modules/openai ] || npm ci --no-audit --no-fund --loglevel=error; }

# The whole suite, then again under AddressSanitizer + UndefinedBehaviorSanitizer.
test: deps build build-asan node-deps
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

test-fast: build node-deps
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Benchmarks (not part of make test); writes docs/benchmarks.md.
bench: deps build
	scripts/bench.sh $(BUILD)

# The guide's Path 1 comparison, live and scaled down (about 4 minutes).
bench-path1: deps build
	scripts/bench_path1.sh $(BUILD)

# The virtual-time simulator: speed and the policy comparisons (about a minute).
bench-simulate: deps build
	scripts/bench_simulate.sh $(BUILD)

# P/D against aggregated (simulated and live) and the xPyD sweep (about 2 minutes).
bench-pd: deps build
	scripts/bench_pd.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
