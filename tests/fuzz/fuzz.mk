# fuzz.mk - libFuzzer targets for every parser (tests/fuzz/README.md).
#   make fuzz FUZZ_SECONDS=N   run each target N seconds (default 60)
#   make fuzz-smoke            a few seconds each (CI)
#   make fuzz-build            build them only
# The library is built again with clang and -fsanitize=fuzzer-no-link,
# address,undefined into build-fuzz/; seeds are generated there from
# tests/fixtures, a generated store and the shared corpora; new inputs go to
# build-fuzz/corpus/NAME, crashes to build-fuzz/artifacts/.
.PHONY: fuzz fuzz-smoke fuzz-build fuzz-clean

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR := build-fuzz
FUZZ_TARGETS := imapmrk hiwatermrk msghdr policy pack
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# clang warns about other things than gcc: warnings stay warnings here
FUZZ_CFLAGS = $(filter-out -Werror -Wno-format-truncation,$(HW_CFLAGS)) $(CFLAGS_DEPS) -g -O1 $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link -Isnapshot
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/%.o)
FUZZ_BIN := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

$(FUZZ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DHW_VERSION='"fuzz"' -MMD -MP -c $< -o $@

$(FUZZ_DIR)/libhw.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/libhw.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libhw.a $(LDLIBS_DEPS)

fuzz-build: $(FUZZ_BIN)

clean: fuzz-clean
fuzz-clean:
	rm -rf $(FUZZ_DIR)

-include $(FUZZ_LIB_OBJ:.o=.d)

$(FUZZ_DIR)/seeds.stamp: tests/fuzz/seeds.sh $(BUILD)/hiwater $(BENCH_BIN)
	@HIWATER=$(CURDIR)/$(BUILD)/hiwater MKSTORE=$(CURDIR)/$(BUILD)/bench/mkstore \
		sh tests/fuzz/seeds.sh $(FUZZ_DIR)/seeds
	@touch $@

fuzz: $(FUZZ_BIN) $(FUZZ_DIR)/seeds.stamp
	@sh tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_BIN) $(FUZZ_DIR)/seeds.stamp
	@sh tests/fuzz/run.sh $(FUZZ_DIR) 5 $(FUZZ_TARGETS)
