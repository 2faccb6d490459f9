# Herald - the two front-door commands of the README, plus bench.
BUILD_DIR ?= build
CONFIG    ?= etc/herald.toml
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=
# make install: PREFIX (/usr puts sendmail at /usr/sbin/sendmail and the
# configuration in /etc/herald), DESTDIR for a staging directory.
PREFIX    ?= /usr/local
DESTDIR   ?=
SYSCONFDIR = $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)

.PHONY: all bootstrap build run test bench install clean

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
	bench/imap
	HERALD_BIN=$(abspath $(BUILD_DIR))/herald bench/notify
	$(BUILD_DIR)/src/store/directory_bench 1000 100000 1000000

install: build
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR)/herald \
		$(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 755 $(BUILD_DIR)/herald $(BUILD_DIR)/herald-sendmail $(DESTDIR)$(PREFIX)/sbin/
	ln -sf herald-sendmail $(DESTDIR)$(PREFIX)/sbin/sendmail
	ln -sf ../sbin/herald-sendmail $(DESTDIR)$(PREFIX)/bin/mailq
	test -e $(DESTDIR)$(SYSCONFDIR)/herald/herald.toml || \
		install -m 644 etc/herald.example.toml $(DESTDIR)$(SYSCONFDIR)/herald/herald.toml
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' etc/herald.service.in \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/herald.service

clean:
	rm -rf $(BUILD_DIR)
