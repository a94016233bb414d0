# Thin wrapper over CMake. `make` builds build/sluice; `make run` starts it; `make test` runs every test.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PYTEST     ?= /usr/bin/python3 -m pytest
FUZZ_SECONDS ?= 20
JOBS       ?= $(shell nproc)

.PHONY: all deps deps-test deps-bench build run test unit unit-asan integration crash fuzz bench clean format

all: build

deps:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test
deps-bench:
	@scripts/deps.sh bench

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/sluice serve

test: deps-test build
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(BUILD) && ctest --output-on-failure
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure
	$(MAKE) --no-print-directory fuzz
	SLUICE_BIN=$(CURDIR)/$(BUILD)/sluice $(PYTEST) -q tests/integration tests/crash
	@echo "fault suite: clusters in network namespaces under kill -9, pause and partitions (docs/FAULTS.md)"
	$(MAKE) --no-print-directory fault
	@echo "integration tests again, against the ASan+UBSan server (any sanitizer report fails a test)"
	SLUICE_BIN=$(CURDIR)/$(ASAN_BUILD)/sluice ASAN_OPTIONS=detect_leaks=1 $(PYTEST) -q tests/integration

unit: build
	cd $(BUILD) && ctest --output-on-failure

integration: build
	SLUICE_BIN=$(CURDIR)/$(BUILD)/sluice $(PYTEST) -q tests/integration

crash: build
	SLUICE_BIN=$(CURDIR)/$(BUILD)/sluice $(PYTEST) -q tests/crash

fuzz: deps-test
	@CC=clang-14 cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON -DSLUICE_TESTS=OFF -DSLUICE_SANITIZE=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)
	@for f in tests/fuzz/fuzz_*.c; do n=$$(basename $$f .c); c=tests/fuzz/corpus/$${n#fuzz_}; \
	  mkdir -p $$c; echo "fuzz $$n for $(FUZZ_SECONDS)s"; \
	  mkdir -p $(FUZZ_BUILD)/new-$$n; $(FUZZ_BUILD)/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=0 $(FUZZ_BUILD)/new-$$n $$c >$(FUZZ_BUILD)/$$n.log 2>&1 || { tail -50 $(FUZZ_BUILD)/$$n.log; exit 1; }; done

bench: deps-bench build
	bench/run.sh
	@echo "== continuous SQL: Nexmark in-process (typed rows, then JSON text), one core =="
	$(MAKE) --no-print-directory -C bench/nexmark build/nexmark-gen bench
	bench/nexmark/build/nexmark-bench --events 5000000
	bench/nexmark/build/nexmark-bench --events 2000000 --json
	@echo "== continuous SQL: Nexmark over a durable JSON topic, 1 and 2 scan threads =="
	/usr/bin/python3 bench/sql_topics.py --events 2000000
	@echo "== cluster: 3 replicas vs one node vs NATS JetStream R3, failover; replica catch-up =="
	/usr/bin/python3 bench/cluster.py
	/usr/bin/python3 bench/catchup.py --mb 200

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# Jepsen-style fault suite (tests/fault, docs/FAULTS.md): real nodes in network namespaces; needs root.
SOAK_SECONDS ?= 600
.PHONY: fault soak
fault: build
	SLUICE_BIN=$(CURDIR)/$(BUILD)/sluice $(PYTEST) -q tests/fault

soak: build
	SLUICE_BIN=$(CURDIR)/$(BUILD)/sluice SLUICE_SOAK_SECONDS=$(SOAK_SECONDS) $(PYTEST) -q -s tests/fault/test_fault_soak.py
