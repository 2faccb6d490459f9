# Herald - the two front-door commands of the README, plus bench.
BUILD_DIR ?= build
CONFIG    ?= etc/herald.toml
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all bootstrap build run test bench clean

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD_DIR)/build.ninja: CMakeLists.txt | bootstrap
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: bootstrap $(BUILD_DIR)/build.ninja
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/herald serve --config $(CONFIG)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

bench: build
	@scripts/bootstrap --bench
	bench/run
	bench/outbound
	bench/spool
	$(BUILD_DIR)/src/store/directory_bench 1000 100000 1000000

clean:
	rm -rf $(BUILD_DIR)
