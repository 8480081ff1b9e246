# qsl - kernel/socket path lab bench for a small exchange.
# Plain GNU make; pkg-config finds lua5.4 and check. `make help` lists targets.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
BUILD ?= build

OPT ?= -O3
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wcast-qual -Wformat=2 -Wundef -Wvla -Wwrite-strings \
        -Wimplicit-fallthrough
ifneq ($(CI),)
WARN += -Werror
endif
ifneq ($(WERROR),)
WARN += -Werror
endif
SAN ?=
# Link-time optimisation where the compiler is GCC and no sanitizer runs (LTO=0: off): the
# engine's calls into the book, risk and wire code inline across files (make bench: the
# original's book workload 1,160 instructions an op at -O2, 977 at -O3 with LTO)
LTO ?= auto
CC_IS_GCC := $(shell $(CC) --version 2>/dev/null | grep -q 'Free Software Foundation' && echo yes)
LTO_FLAGS = $(if $(filter 0,$(LTO))$(SAN),,$(if $(CC_IS_GCC),-flto=auto))
CFLAGS ?= $(OPT) -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(SAN) $(LTO_FLAGS) $(CFLAGS) -Icore -Icore/roles -MMD -MP
ALL_LDFLAGS = $(SAN) $(if $(LTO_FLAGS),$(LTO_FLAGS) $(CFLAGS)) $(LDFLAGS)
AR = $(if $(LTO_FLAGS),gcc-ar,ar)

# Evaluated when a recipe runs, i.e. after `deps` has installed pkg-config's inputs.
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS = $(shell pkg-config --libs check)
LUA_CFLAGS = $(shell pkg-config --cflags lua5.4)
LUA_LIBS = $(shell pkg-config --libs lua5.4)
# io_uring mode when liburing is there (URING=0 builds without it: the mode then says why)
URING ?= auto
ifeq ($(URING),0)
URING_CFLAGS =
URING_LIBS =
else
URING_CFLAGS = $(shell pkg-config --exists liburing && echo -DQSL_HAVE_URING)
URING_LIBS = $(shell pkg-config --exists liburing && pkg-config --libs liburing)
endif

# the kernel's account of drops (core/kernel.c) when libbpf, bpftool and clang are there
# (BPF=0 builds without it: qsl.kernel then says why). Decided when a recipe runs, after
# `deps`; $(BUILD)/bpf/state holds the decision, so flipping it rebuilds what depends on it.
BPF ?= auto
BPF_OK = $(if $(filter 0,$(BPF)),,$(shell pkg-config --exists libbpf && command -v bpftool >/dev/null \
           && command -v clang >/dev/null && echo yes))
BPF_LIBS = $(if $(BPF_OK),$(shell pkg-config --libs libbpf))
BPF_INC = /usr/include/$(shell $(CC) -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)

CORE_SRC := $(wildcard core/*.c core/roles/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libqslcore.a

LUA_SRC := $(filter-out lua/qsl_run.c,$(wildcard lua/*.c))
LUA_OBJ := $(LUA_SRC:%.c=$(BUILD)/%.o)
QSL_RUN := $(BUILD)/qsl-run

TEST_SRC := $(wildcard tests/test_*.c) tests/check_main.c tests/gateway_harness.c tests/bench_floor.c
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(BUILD)/check_core
LTEST_SRC := $(wildcard tests/lua/test_*.c) tests/lua/check_main.c
LTEST_OBJ := $(LTEST_SRC:%.c=$(BUILD)/%.o)
LTEST_BIN := $(BUILD)/check_lua

BENCH_BIN := $(BUILD)/bench_engine
OFLOOR_BIN := $(BUILD)/bench_ofloor
STARTUP_BIN := $(BUILD)/bench_startup

.PHONY: all deps check asan nouring nobpf bench demo profile-io socket-stress fuzz fuzz-bins install clean help

all: deps $(CORE_LIB) $(QSL_RUN) $(BENCH_BIN) $(OFLOOR_BIN) $(STARTUP_BIN)

help:
	@echo "qsl make targets:"
	@echo "  make          install missing Debian packages (deps), build everything"
	@echo "  make deps     install the packages in vendor/packages.txt that are missing"
	@echo "  make check    build and run every test suite (Check)"
	@echo "  make asan     the whole test suite under AddressSanitizer + UBSan"
	@echo "  make nouring  build without liburing: the io_uring mode must be absent and say why"
	@echo "  make nobpf    build without libbpf: qsl.kernel.drops must be absent and say why"
	@echo "  make bench    benchmarks: engine ns/op + instructions, feed vs raw send, gateway vs echo, start-up"
	@echo "  make profile-io     the original's profile: scenarios/profile_gateway.lua into results/runs (ARGS=...)"
	@echo "  make socket-stress  the original's UDP experiment: scenarios/rcvbuf_burst.lua into results/runs"
	@echo "  make fuzz     libFuzzer targets (clang, ASan+UBSan), FUZZ_SECONDS each (default 30)"
	@echo "  make demo     build and run the main end-to-end job"
	@echo "  make install  install into \$$(DESTDIR)\$$(PREFIX) (PREFIX=$(PREFIX))"
	@echo "  make clean    remove build outputs"
	@echo "variables: CC, OPT, CFLAGS, BUILD, WERROR=1 (CI=true implies it), URING=0 (no io_uring), BPF=0 (no BPF), LTO=0 (no link-time optimisation)"

deps:
	@sh vendor/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/bpf/state: FORCE
	@mkdir -p $(@D)
	@echo "$(BPF_OK)" > $@.tmp; cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

# core/kernel.c includes drops.skel.h first (as a system header: bpftool's code is not held
# to our warnings): the skeleton and QSL_HAVE_BPF, or only a
# comment saying why there is none
$(BUILD)/bpf/drops.skel.h: core/bpf/drops.bpf.c core/bpf/drops_map.h $(BUILD)/bpf/state
	@mkdir -p $(@D)
	@if [ -n "$(BPF_OK)" ]; then \
	    echo "clang -target bpf $< && bpftool gen skeleton"; \
	    clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I$(BPF_INC) -Icore/bpf -Wall -Werror \
	        -c $< -o $(BUILD)/bpf/drops.bpf.o && \
	    { echo "#define QSL_HAVE_BPF 1"; bpftool gen skeleton $(BUILD)/bpf/drops.bpf.o name drops_bpf; } \
	        > $@.tmp && mv $@.tmp $@; \
	else echo "/* built without BPF: BPF=0, or libbpf-dev, bpftool or clang absent */" > $@; fi
$(BUILD)/core/kernel.o: $(BUILD)/bpf/drops.skel.h
$(BUILD)/core/kernel.o: ALL_CFLAGS += -isystem $(BUILD)/bpf

# the io_uring modes' files
$(BUILD)/core/gateway_uring.o $(BUILD)/core/feed_uring.o $(BUILD)/core/uring.o $(BUILD)/tests/test_uring.o: \
    ALL_CFLAGS += $(URING_CFLAGS)

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -c $< -o $@

$(BUILD)/tests/lua/%.o: tests/lua/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ilua $(CHECK_CFLAGS) $(LUA_CFLAGS) -c $< -o $@

# the compiler and flags are part of every artifact's provenance
$(BUILD)/lua/%.o: lua/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LUA_CFLAGS) -DQSL_CFLAGS='"$(strip $(OPT) $(SAN) $(LTO_FLAGS))"' -c $< -o $@

# the commit qsl-run is built from, for --version; rewritten only when it changes
$(BUILD)/commit.h: FORCE
	@mkdir -p $(@D)
	@c=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	if [ "$$c" != unknown ] && ! git diff --quiet HEAD -- . ':(exclude)results' 2>/dev/null; \
	then c="$$c-dirty"; fi; \
	echo "#define QSL_COMMIT \"$$c\"" > $@.tmp; cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp
$(BUILD)/lua/qsl_run.o: $(BUILD)/commit.h
$(BUILD)/lua/qsl_run.o: ALL_CFLAGS += -I$(BUILD)
.PHONY: FORCE
FORCE:

$(QSL_RUN): $(BUILD)/lua/qsl_run.o $(LUA_OBJ) $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LUA_LIBS) $(URING_LIBS) $(BPF_LIBS)

$(LTEST_BIN): $(LTEST_OBJ) $(LUA_OBJ) $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LUA_LIBS) $(URING_LIBS) $(BPF_LIBS)

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(TEST_BIN): $(TEST_OBJ) $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(TEST_OBJ) $(CORE_LIB) $(CHECK_LIBS) $(URING_LIBS) $(BPF_LIBS)

$(BENCH_BIN): $(BUILD)/bench/bench_engine.o $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(URING_LIBS) $(BPF_LIBS)

# obook's loop through tests/bench_floor.c's minimal engine: a binary of its own (bench_ofloor.c)
$(OFLOOR_BIN): $(BUILD)/bench/bench_ofloor.o $(BUILD)/bench/bench_floor.o $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(URING_LIBS) $(BPF_LIBS)

$(STARTUP_BIN): $(BUILD)/bench/bench_startup.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^

# make bench's preloaded counter of a server's user cycles (the TSC: x86-64 only)
USERCYCLES_SO := $(if $(filter x86_64,$(shell uname -m)),$(BUILD)/bench_usercycles.so)
$(BUILD)/bench_usercycles.so: tests/bench_usercycles.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O2 -fPIC -shared -o $@ $< -ldl

$(BUILD)/bench/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

check: deps
	@$(MAKE) --no-print-directory $(TEST_BIN) $(LTEST_BIN) $(QSL_RUN)
	$(TEST_BIN)
	QSL_RUN=$(QSL_RUN) $(LTEST_BIN)
	$(SMOKE_ENV) $(QSL_RUN) tests/lua/run.lua
	$(SMOKE_ENV) sh tests/smoke.sh $(QSL_RUN)

# LeakSanitizer cannot run under ptrace, and profile_gateway's second pass runs
# the gateway under strace: the smoke tests check leaks in no child (the Check
# suites still do, in-process).
asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 SMOKE_ENV="ASAN_OPTIONS=detect_leaks=0 QSL_PAIRS=40" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" check

nouring: deps
	@$(MAKE) --no-print-directory BUILD=build/nouring URING=0 build/nouring/qsl-run
	@for role in gateway subscribe; do \
	    out=$$(build/nouring/qsl-run $$role mode=io_uring 2>&1); rc=$$?; \
	    if [ $$rc -eq 2 ] && echo "$$out" | grep -q "built without liburing"; \
	    then echo "nouring: ok: $$out"; \
	    else echo "nouring: want exit 2 and 'built without liburing'; got $$rc: $$out"; exit 1; fi; \
	done

# the scenario still runs, its kernel columns n/a with the reason (never 0)
nobpf: deps
	@$(MAKE) --no-print-directory BUILD=build/nobpf BPF=0 build/nobpf/qsl-run
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	build/nobpf/qsl-run scenarios/rcvbuf_burst.lua --quick out=$$d >/dev/null || exit 1; \
	if grep -q "n/a (built without libbpf" $$d/rcvbuf_burst.txt; \
	then echo "nobpf: ok: $$(grep -o 'SOCKET_RCVBUFF and.*' $$d/rcvbuf_burst.txt)"; \
	else echo "nobpf: want the kernel's drop reasons n/a, built without libbpf:"; cat $$d/rcvbuf_burst.txt; exit 1; fi

bench: deps $(BENCH_BIN) $(OFLOOR_BIN) $(STARTUP_BIN) $(QSL_RUN) $(USERCYCLES_SO)
	@QSL_RUN=$(QSL_RUN) USERCYCLES_SO=$(USERCYCLES_SO) sh tests/bench.sh $(BENCH_BIN)

demo: deps
	@$(MAKE) --no-print-directory $(QSL_RUN)
	$(QSL_RUN) scenarios/rcvbuf_burst.lua out=results/runs

# The original's make targets, for its users' habits: its profile script and its UDP
# socket experiment, as qsl's scenarios (ARGS= passes parameters: ARGS="trials=5").
profile-io: deps
	@$(MAKE) --no-print-directory $(QSL_RUN)
	$(QSL_RUN) scenarios/profile_gateway.lua out=results/runs $(ARGS)

socket-stress: deps
	@$(MAKE) --no-print-directory $(QSL_RUN)
	$(QSL_RUN) scenarios/rcvbuf_burst.lua out=results/runs $(ARGS)

FUZZ_TARGETS := wire session engine feed strace procfs params
FUZZ_SECONDS ?= 30

# libFuzzer: objects instrumented with fuzzer-no-link, targets linked with the fuzzer main
fuzz: deps
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang OPT=-O1 BPF=0 \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" fuzz-bins
	sh tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

fuzz-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz_%)

$(BUILD)/fuzzobj/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ilua $(LUA_CFLAGS) -c $< -o $@

$(BUILD)/fuzz_%: $(BUILD)/fuzzobj/fuzz_%.o $(LUA_OBJ) $(CORE_LIB)
	$(CC) -fsanitize=fuzzer,address,undefined $(LDFLAGS) -o $@ $^ $(LUA_LIBS) $(URING_LIBS) $(BPF_LIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/qsl \
	    $(DESTDIR)$(PREFIX)/share/qsl/lua/qsl $(DESTDIR)$(PREFIX)/share/qsl/scenarios
	install -m 755 $(QSL_RUN) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(CORE_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 core/*.h $(DESTDIR)$(PREFIX)/include/qsl/
	install -m 644 lua/qsl/*.lua $(DESTDIR)$(PREFIX)/share/qsl/lua/qsl/
	install -m 644 scenarios/*.lua $(DESTDIR)$(PREFIX)/share/qsl/scenarios/

clean:
	rm -rf build

-include $(CORE_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(LUA_OBJ:.o=.d) $(LTEST_OBJ:.o=.d) \
    $(BUILD)/bench/bench_engine.d $(BUILD)/bench/bench_floor.d $(BUILD)/bench/bench_ofloor.d \
    $(BUILD)/bench/bench_startup.d $(BUILD)/lua/qsl_run.d
