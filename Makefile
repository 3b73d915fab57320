# Makefile - builds libcsplat (static and shared), the csplat CLI, the test binary, benchmarks
# and libFuzzer targets.
#
#   make                     library + CLI (build/)
#   make test                unit tests, then the installed-library and viewer checks
#   make SAN=address test    AddressSanitizer + UndefinedBehaviorSanitizer (build/san-address/)
#   make SAN=thread test     ThreadSanitizer (build/san-thread/)
#   make WERROR=1            warnings are errors (CI)
#   make bench               benchmarks (build/bench/)
#   make fuzz                libFuzzer targets with clang (build/fuzz/)
#   make fuzz-run            each fuzzer for FUZZ_SECONDS (default 20)
#   make install PREFIX=...  header, libraries, csplat.pc, CLI
#   make deps                install the Debian packages the build needs (apt-get)
#   make demo                build, then run `csplat demo`
#
# Sources are found by wildcard: a new src/*.c, tools/*.c, tests/*.c, bench/*.c or fuzz/*.c file
# needs no edit here. Files named *_avx2.c are compiled with -mavx2 -mfma and must only be called
# after a run-time CPU check.

CC      ?= cc
PREFIX  ?= /usr/local
SAN     ?=
WERROR  ?=
BUILD   ?= build$(if $(SAN),/san-$(SAN))
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 20

PKGS := libpng libjpeg zlib libcjson libzstd libwebp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# SDL2 is for `csplat view` only: the CLI links it, the library never does.
CLI_PKGS   := sdl2
CLI_CFLAGS := $(shell pkg-config --cflags $(CLI_PKGS) 2>/dev/null)
CLI_LIBS   := $(shell pkg-config --libs $(CLI_PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wdouble-promotion
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 $(WARN) -fPIC -pthread $(if $(WERROR),-Werror)
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lm -pthread

ifeq ($(SAN),address)
  CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SAN),thread)
  CFLAGS  += -fsanitize=thread
  LDFLAGS += -fsanitize=thread
else ifneq ($(SAN),)
  $(error SAN must be address or thread)
endif

LIB_SRC   := $(wildcard src/*.c src/cpu/*.c)
CLI_SRC   := $(wildcard tools/*.c)
TEST_SRC  := $(wildcard tests/*.c tests/ref/*.c)
BENCH_SRC := $(wildcard bench/*.c)
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJ   := $(call obj,$(LIB_SRC))
CLI_OBJ   := $(call obj,$(CLI_SRC))
TEST_OBJ  := $(call obj,$(TEST_SRC))

STATIC := $(BUILD)/libcsplat.a
SHARED := $(BUILD)/libcsplat.so
CLI    := $(BUILD)/csplat
TESTS  := $(BUILD)/csplat_tests
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
FUZZERS := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

.PHONY: all test unit-test install-check view-check bench fuzz fuzz-run install deps demo clean \
        format
all: $(STATIC) $(SHARED) $(CLI)

# V=1 prints the full compiler command lines.
Q := $(if $(V),,@)

$(BUILD)/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC   $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -mavx2 -mfma -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC   $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libcsplat.so.0 $^ -o $@ $(LDLIBS)

$(CLI_OBJ): CPPFLAGS += $(CLI_CFLAGS)
$(CLI): $(CLI_OBJ) $(STATIC)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(CLI_LIBS)

# The test list is generated from the TEST(name) definitions in tests/.
$(BUILD)/gen/test_list.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	grep -ho '^TEST([a-z0-9_]*)' $(TEST_SRC) | sed 's/^TEST(\(.*\))/X(\1)/' > $@

$(BUILD)/obj/tests/main.o: $(BUILD)/gen/test_list.h
$(BUILD)/obj/tests/main.o: CPPFLAGS += -I$(BUILD)/gen

$(TESTS): $(TEST_OBJ) $(STATIC)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# TEST_ARGS="name-substring" runs a subset.
unit-test: $(TESTS) $(CLI)
	CSPLAT_CLI=$(CLI) $(TESTS) $(TEST_ARGS)

install-check: $(STATIC) $(SHARED) $(CLI)
	sh tests/install_check.sh

# `csplat view --frames` under xvfb-run against `csplat render --orbit` (skips without xvfb-run).
view-check: $(CLI)
	sh tests/view_check.sh $(CLI)

test: unit-test $(if $(SAN),,install-check view-check)

$(BUILD)/bench/%: bench/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(STATIC) -o $@ $(LDLIBS)

bench: $(BENCHES)

# Fuzzers: the library rebuilt with clang's coverage and sanitizers, one binary per entry point.
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined
FUZZ_LIB_OBJ := $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRC))
build/fuzz/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 $(CPPFLAGS) $(FUZZ_FLAGS) -mavx2 -mfma -c $< -o $@
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 $(CPPFLAGS) $(FUZZ_FLAGS) -c $< -o $@
build/fuzz/%: fuzz/%.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) -std=c11 $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined $^ -o $@ \
	  $(LDLIBS)

fuzz: $(FUZZERS)

fuzz-run: $(FUZZERS)
	sh fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

install: $(STATIC) $(SHARED) $(CLI)
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/csplat.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/libcsplat.so.0
	ln -sf libcsplat.so.0 $(DESTDIR)$(PREFIX)/lib/libcsplat.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@PKGS@|$(PKGS)|' csplat.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/csplat.pc
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/

deps:
	sh scripts/install-deps.sh

demo: $(CLI)
	$(CLI) demo

format:
	clang-format -i include/*.h src/*.c src/*.h src/cpu/*.c tools/*.c tests/*.c tests/*.h

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
