# crash.mk - the crash harness (tests/crash/crash.sh), included by the Makefile.
#   make crash-short   a short run (about 60 kill points), part of make check
#   make crash         the long run: over 300 kill points, then the long fault
#                      matrix (over 200 fault points); CRASH_SEED=S to vary
.PHONY: crash crash-short

CRASHCHECK := $(BUILD)/tests/crashcheck
CRASH_ENV = HIWATER=$(CURDIR)/$(BUILD)/hiwater MKSTORE=$(CURDIR)/$(BUILD)/bench/mkstore \
	CRASHCHECK=$(CURDIR)/$(CRASHCHECK)

$(CRASHCHECK): $(BUILD)/tests/crash/crashcheck.o $(BUILD)/libhw.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libhw.a $(LDLIBS_DEPS)

crash-short: $(BUILD)/hiwater $(BENCH_BIN) $(CRASHCHECK)
	@$(CRASH_ENV) sh tests/crash/crash.sh --short $(if $(CRASH_SEED),--seed $(CRASH_SEED))

crash: $(BUILD)/hiwater $(BENCH_BIN) $(CRASHCHECK)
	@$(CRASH_ENV) sh tests/crash/crash.sh --long $(if $(CRASH_SEED),--seed $(CRASH_SEED))
	@$(CRASH_ENV) sh tests/crash/crash.sh --long --faults $(if $(CRASH_SEED),--seed $(CRASH_SEED))

-include $(BUILD)/tests/crash/crashcheck.d

# the fault tests (tests/e2e/t071N-faults-*.sh) run crash.sh --faults
e2e: $(CRASHCHECK)

# mdwriter: plays MDaemon (deliveries, deletions, flag changes under the
# folder lock) for the live-writer test, tests/e2e/t0723-live-writer.sh
MDWRITER := $(BUILD)/tests/mdwriter
$(MDWRITER): $(BUILD)/tests/crash/mdwriter.o $(BUILD)/libhw.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libhw.a $(LDLIBS_DEPS)
e2e: $(MDWRITER)
-include $(BUILD)/tests/crash/mdwriter.d
