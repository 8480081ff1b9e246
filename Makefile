# qsl - kernel/socket path lab bench for a small exchange.
# Plain GNU make; pkg-config finds lua5.4 and check. `make help` lists targets.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
BUILD ?= build

OPT ?= -O2
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
CFLAGS ?= $(OPT) -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(SAN) $(CFLAGS) -Icore -MMD -MP
ALL_LDFLAGS = $(SAN) $(LDFLAGS)

# Evaluated when a recipe runs, i.e. after `deps` has installed pkg-config's inputs.
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS = $(shell pkg-config --libs check)

CORE_SRC := $(wildcard core/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libqslcore.a

TEST_SRC := $(wildcard tests/test_*.c) tests/check_main.c
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(BUILD)/check_core

BENCH_BIN := $(BUILD)/bench_engine

.PHONY: all deps check asan bench demo install clean help

all: deps $(CORE_LIB) $(BENCH_BIN)

help:
	@echo "qsl make targets:"
	@echo "  make          install missing Debian packages (deps), build everything"
	@echo "  make deps     install the packages in vendor/packages.txt that are missing"
	@echo "  make check    build and run every test suite (Check)"
	@echo "  make asan     the whole test suite under AddressSanitizer + UBSan"
	@echo "  make bench    engine benchmarks: ns/op min/median/max, instructions/order"
	@echo "  make demo     build and run the main end-to-end job"
	@echo "  make install  install into \$$(DESTDIR)\$$(PREFIX) (PREFIX=$(PREFIX))"
	@echo "  make clean    remove build outputs"
	@echo "variables: CC, OPT, CFLAGS, BUILD, WERROR=1 (CI=true implies it)"

deps:
	@sh vendor/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(TEST_BIN): $(TEST_OBJ) $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(TEST_OBJ) $(CORE_LIB) $(CHECK_LIBS)

$(BENCH_BIN): $(BUILD)/bench/bench_engine.o $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/bench/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

check: deps
	@$(MAKE) --no-print-directory $(TEST_BIN)
	$(TEST_BIN)

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" check

bench: deps $(BENCH_BIN)
	@sh tests/bench.sh $(BENCH_BIN)

demo: bench

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/qsl
	install -m 644 $(CORE_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 core/*.h $(DESTDIR)$(PREFIX)/include/qsl/

clean:
	rm -rf build

-include $(CORE_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
