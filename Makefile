# Entry points for people and CI: every target installs what it needs, then builds into build/.
#   make demo      the main job: a simulated site, live
#   make test      every test: gcc build, clang + ASan/UBSan build with short fuzz passes,
#                  freestanding rv32 build, static analysis
#   make bench     every benchmark in bench/, one line per figure
#   make size      core size for the ESP32-C3 ISA (rv32imc, -Os, freestanding)
#   make isa-check one whole pack through a scripted day on host, rv32imc and Xtensa (QEMU): identical
#   make idf-check IDF_PATH=... the ESP-IDF port compiled against real ESP-IDF headers (not in test)
#   make coverage  line coverage of the firmware core
#   make fuzz      long libFuzzer campaigns (1,000,000 runs per target)
#   make powercut  the full power-cut campaigns: settings store, firmware update
#   make soak      the whole-site fault-injection soak (30 days, 8 packs, seeds 1-5; SOAK_ARGS to change)
#   make deb       Debian packages for amd64 and arm64 (build/deb), checked with lintian
#   make deb-test  the packages installed, configured, run and upgraded in a Debian 12 root
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
.PHONY: deps build build-san build-cov test test-gcc test-san size isa-check idf-check coverage bench fuzz powercut soak demo lint clean deb deb-test deb-test-if-possible

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j$(JOBS) -- --no-print-directory

build-san: deps
	@cmake -S . -B build/san -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DALFA_SANITIZE=ON -DALFA_FUZZ=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build/san -j$(JOBS) -- --no-print-directory

build-cov: deps
	@cmake -S . -B build/cov -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug -DALFA_COVERAGE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build/cov -j$(JOBS) -- --no-print-directory

test-gcc: build
	@echo "== tests: gcc build =="
	@ctest --test-dir build --output-on-failure -j$(JOBS)

test-san: build-san
	@echo "== tests: clang build with AddressSanitizer + UndefinedBehaviorSanitizer (fuzzers: short passes) =="
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir build/san --output-on-failure -j$(JOBS)

test: test-gcc test-san size isa-check lint deb-test-if-possible
	@echo "== make test: all passed =="

size: deps
	@scripts/size.sh

isa-check: deps
	@echo "== isa-check: one pack, one day, on host, rv32imc and Xtensa (esp32) =="
	@scripts/isa_check.sh

idf-check:
	@scripts/idf_check.sh "$(IDF_PATH)"

coverage: build-cov
	@find build/cov -name '*.gcda' -delete
	@ctest --test-dir build/cov -j$(JOBS) -LE slow >/dev/null || ctest --test-dir build/cov --output-on-failure -LE slow
	@scripts/coverage.sh

bench: build
	@scripts/bench.sh

fuzz: build-san
	@scripts/fuzz.sh

powercut: build
	@build/bin/alfaspark-powercut --full
	@build/bin/alfaspark-powercut-ota --full

SOAK_ARGS ?= --days 30 --packs 8 --seeds 1-5
soak: build
	@build/bin/alfaspark-soak $(SOAK_ARGS)

lint: deps
	@scripts/lint.sh

demo: build
	@scripts/demo.sh

deb: deps
	@scripts/deb.sh --lintian

deb-test: deps
	@scripts/deb-test.sh

# make test runs it wherever it can (root, the tools from scripts/deb-deps.sh); says why not elsewhere.
deb-test-if-possible: deps
	@scripts/deb-test.sh --if-possible

clean:
	rm -rf build
