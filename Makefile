# weft: convenience entry points. CMake is the real build; this only drives it.
#
#   make demo     configure + build (Release) and run every example in examples/
#   make test     configure + build everything and run the CTest suite
#   make bench    run the benchmarks (benches/run.sh)
#   make format   clang-format -i over include/ src/ tests/ benches/ examples/
#   make clean    remove the build directory ($(BUILD_DIR))
#
# Variables: BUILD_DIR (build), BUILD_TYPE (Release), JOBS (2), CMAKE_ARGS.

BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= 2
CMAKE_ARGS ?=
CTEST_ARGS ?=

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

EXAMPLES := $(basename $(notdir $(wildcard examples/*.cpp)))
FORMAT_DIRS := $(wildcard include src tests benches examples)

.PHONY: help bootstrap configure build demo test bench format clean distclean

help:
	@echo "weft make targets:"
	@echo "  make demo     build (Release) and run every example"
	@echo "  make test     build everything and run the test suite (ctest -j$(JOBS))"
	@echo "  make bench    run the benchmarks (benches/run.sh)"
	@echo "  make format   clang-format -i the sources"
	@echo "  make clean    remove $(BUILD_DIR)/"

# The default configuration builds benches/ too, so Google Benchmark is needed.
bootstrap:
	@scripts/bootstrap.sh --bench

configure: bootstrap
	cmake -G Ninja -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target weft_examples
	@status=0; \
	for ex in $(EXAMPLES); do \
	  echo "=== example: $$ex ==="; \
	  timeout 120 "$(BUILD_DIR)/examples/$$ex" || { rc=$$?; echo "*** example $$ex failed (exit status $$rc)"; status=1; }; \
	  echo; \
	done; \
	exit $$status

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

bench:
	@scripts/bootstrap.sh --bench
	bash benches/run.sh

format:
	@scripts/bootstrap.sh --format
	find $(FORMAT_DIRS) -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' -o -name '*.ipp' \) \
	  -print0 | xargs -0 -r clang-format -i

clean:
	rm -rf $(BUILD_DIR)

# Also the preset and CI build trees (build-debug, build-asan, ...).
distclean: clean
	rm -rf build-*/
