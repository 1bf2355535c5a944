# hiwater - GNU make build.
#   make            build ./hiwater and ./bench/mkstore
#   make check      install missing packages, build, run every test
#   make check SAN=1   the same with AddressSanitizer + UBSan
#   make demo       install, build, make a sample store, run on it, show report
#   make install PREFIX=/usr/local DESTDIR=...
#   make fuzz FUZZ_SECONDS=N   (clang libFuzzer targets, see tests/fuzz)

PREFIX ?= /usr/local
DESTDIR ?=
PKGS := libarchive libzstd libxxhash yaml-0.1 sqlite3
DEB_PKGS := build-essential pkg-config libarchive-dev libzstd-dev libxxhash-dev libyaml-dev \
	libsqlite3-dev check zstd libarchive-tools e2fsprogs sqlite3 clang libclang-rt-14-dev

CC ?= cc
CFLAGS ?= -O2 -g
HW_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation \
	-Wshadow -Wstrict-prototypes -Wmissing-prototypes -pthread $(MODULES:%=-I%)
LDLIBS_DEPS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm
CFLAGS_DEPS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

ifeq ($(SAN),1)
BUILD := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD := build
SANFLAGS :=
endif

ALL_CFLAGS = $(HW_CFLAGS) $(CFLAGS_DEPS) $(CFLAGS) $(SANFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

MODULES := core indexer defrag snapshot policy
LIB_SRC := $(sort $(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC := $(sort $(wildcard cli/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/check_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TESTLIB_SRC := $(sort $(wildcard tests/unit/testlib*.c))
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)

.PHONY: all deps check unit e2e demo install clean
.DEFAULT_GOAL := all

all: $(BUILD)/hiwater $(BENCH_BIN)
ifneq ($(SAN),1)
	@ln -sf $(BUILD)/hiwater hiwater
	@for b in $(BENCH_BIN); do ln -sf ../$$b bench/$$(basename $$b); done
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DHW_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

$(BUILD)/libhw.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/hiwater: $(CLI_OBJ) $(BUILD)/libhw.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libhw.a $(LDLIBS_DEPS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libhw.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libhw.a $(LDLIBS_DEPS)

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -DHW_SRCDIR='"$(CURDIR)"' -MMD -MP -c $< -o $@

$(BUILD)/tests/check_%: $(BUILD)/tests/unit/check_%.o $(TESTLIB_OBJ) $(BUILD)/libhw.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TESTLIB_OBJ) $(BUILD)/libhw.a $(CHECK_LIBS) $(LDLIBS_DEPS)

deps:
	@sh tools/deps.sh $(DEB_PKGS)

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit e2e crash-short

unit: $(UNIT_BIN)
	@sh tools/run-unit.sh $(UNIT_BIN)

e2e: $(BUILD)/hiwater $(BENCH_BIN)
	@HIWATER=$(CURDIR)/$(BUILD)/hiwater MKSTORE=$(CURDIR)/$(BUILD)/bench/mkstore \
		sh tests/e2e/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tools/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/doc/hiwater/contrib
	install -m 0755 $(BUILD)/hiwater $(DESTDIR)$(PREFIX)/bin/hiwater
	install -m 0644 docs/hiwater.1 $(DESTDIR)$(PREFIX)/share/man/man1/hiwater.1
	if [ -f docs/hiwater.yaml.5 ]; then install -m 0644 docs/hiwater.yaml.5 \
		$(DESTDIR)$(PREFIX)/share/man/man5/hiwater.yaml.5; fi
	for f in contrib/*; do [ -f "$$f" ] && install -m 0644 "$$f" \
		$(DESTDIR)$(PREFIX)/share/doc/hiwater/contrib/; done; true

clean:
	rm -rf build build-san hiwater bench/mkstore bench/floor bench/zparams

# test suites that bring their own targets (crash harness, fuzzers)
-include $(sort $(wildcard tests/*/*.mk))

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(BENCH_BIN:=.d) $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%.d)
.SECONDARY: $(TESTLIB_OBJ)
