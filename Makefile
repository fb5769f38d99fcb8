# smtproxy - one non-recursive GNU Makefile.
#
#   make / make all   build build/smtproxy (and libsmt)
#   make check        install missing packages, build with -Werror, run every
#                     test (unit, transform cases, Connect vectors, fuzz
#                     corpus replay) under ASan+UBSan, check docs are current
#   make run          the main job: the sensor pipeline on generated records
#   make bench        benchmarks (figures, not timed assertions)
#   make fuzz         run the libFuzzer targets for a while (FUZZ_SECONDS)
#   make docs         regenerate docs/transforms.md and the reference in
#                     docs/config.md from the option tables
#   make install      install smtproxy and its man page under PREFIX
#   make format       clang-format every C file
#   make clean
#
# Sources are found by wildcard: a new smt/*.c joins libsmt, a new
# tests/unit/test_*.c becomes a test program, a new fuzz/fuzz_*.c a fuzz
# target with a corpus in fuzz/corpus/<name>/.

CC      ?= cc
O       := build
PKGS    := rdkafka jansson yaml-0.1 lua5.4 libpcre2-8 avro-c libcurl libmicrohttpd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wundef -Wwrite-strings \
           -Wmissing-prototypes -Wstrict-prototypes -Wmissing-declarations \
           -Wpointer-arith -Wformat=2 -Wno-format-nonliteral -Wvla \
           -Wold-style-definition -Wdeclaration-after-statement \
           -Wno-format-truncation
BASEFLAGS := -std=c11 -D_GNU_SOURCE -g $(WARN) -Ismt $(PKG_CFLAGS)
CFLAGS  ?= -O2
ALL_CFLAGS = $(BASEFLAGS) $(CFLAGS)
LDLIBS  = $(PKG_LIBS) -lm -lpthread

SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_CFLAGS = $(BASEFLAGS) -O1 $(SAN)

SMT_SRC   := $(sort $(wildcard smt/*.c))
PROXY_SRC := $(sort $(wildcard proxy/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
HDRS      := $(wildcard smt/*.h proxy/*.h tests/*.h)

SMT_OBJ      := $(SMT_SRC:%.c=$(O)/rel/%.o)
SMT_SAN_OBJ  := $(SMT_SRC:%.c=$(O)/san/%.o)
PROXY_OBJ    := $(PROXY_SRC:%.c=$(O)/rel/%.o)
PROXY_SAN_OBJ := $(PROXY_SRC:%.c=$(O)/san/%.o)
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=$(O)/san/tests/%)
FUZZ_REPLAY  := $(FUZZ_SRC:fuzz/%.c=$(O)/san/fuzz/%)
FUZZ_BIN     := $(FUZZ_SRC:fuzz/%.c=$(O)/fuzz/%)

.PHONY: all check check-run run bench fuzz docs docs-check format clean deps install \
        unit cases fuzz-replay integration
.DEFAULT_GOAL := all

all: $(O)/smtproxy

deps:
	@scripts/deps

# ---------------------------------------------------------------- objects
$(O)/rel/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/san/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -c $< -o $@

$(O)/libsmt.a: $(SMT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(O)/libsmt-san.a: $(SMT_SAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The daemon links jemalloc: the relay allocates a message, its headers and
# its bookkeeping on one thread and frees them milliseconds later, after the
# delivery report, with thousands of allocations in between; glibc's malloc
# spent ~20% of the relay's CPU on that pattern (bench/e2e.py with
# BENCH_PERF=1), jemalloc a fraction of it. The sanitizer builds keep the
# sanitizer's allocator.
$(O)/smtproxy: $(PROXY_OBJ) $(O)/libsmt.a
	$(CC) $(ALL_CFLAGS) -o $@ $(PROXY_OBJ) $(O)/libsmt.a $(LDLIBS) \
	    $(shell pkg-config --libs jemalloc)

$(O)/san/smtproxy: $(PROXY_SAN_OBJ) $(O)/libsmt-san.a
	$(CC) $(SAN_CFLAGS) -o $@ $(PROXY_SAN_OBJ) $(O)/libsmt-san.a $(LDLIBS)

# ---------------------------------------------------------------- tests
$(O)/san/tests/%: tests/unit/%.c $(O)/libsmt-san.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -Itests -o $@ $< $(O)/libsmt-san.a $(LDLIBS)

# test_admin exercises proxy/ code that needs no Kafka (the metrics
# registry, the admin endpoint, the log) and links those objects too.
PX_TEST_OBJ := $(O)/san/proxy/admin.o $(O)/san/proxy/metrics.o \
               $(O)/san/proxy/kafka.o
$(O)/san/tests/test_admin: tests/unit/test_admin.c $(PX_TEST_OBJ) \
                           $(O)/libsmt-san.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -Itests -Iproxy -o $@ $< $(PX_TEST_OBJ) \
	    $(O)/libsmt-san.a $(LDLIBS)

$(O)/san/tests/run_cases: tests/run_cases.c $(O)/libsmt-san.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -Itests -o $@ $< $(O)/libsmt-san.a $(LDLIBS)

$(O)/san/fuzz/%: fuzz/%.c $(O)/libsmt-san.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -DWITH_MAIN -o $@ $< $(O)/libsmt-san.a $(LDLIBS)

# libFuzzer builds (clang): the library compiled with coverage as well.
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -Ismt $(PKG_CFLAGS) \
              -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
$(O)/fuzz/%: fuzz/%.c $(SMT_SRC) $(HDRS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(SMT_SRC) $(LDLIBS)

# Scripted tests find the binaries of this build directory.
export SMTPROXY := $(abspath $(O)/smtproxy)
export SMTPROXY_SAN := $(abspath $(O)/san/smtproxy)
export ASAN_OPTIONS := detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1

unit: $(UNIT_BIN)
	@scripts/run-tests $(UNIT_BIN)

cases: $(O)/san/tests/run_cases
	@scripts/run-tests "$(O)/san/tests/run_cases tests/cases ../shared/reference/connect-vectors.jsonl"

fuzz-replay: $(FUZZ_REPLAY)
	@scripts/run-tests $(foreach f,$(FUZZ_REPLAY),"$(f) fuzz/corpus/$(notdir $(f))")

integration: $(O)/smtproxy $(O)/san/smtproxy
	@scripts/run-tests $(sort $(wildcard tests/integration/test_*.sh))

check:
	@scripts/deps
	@$(MAKE) --no-print-directory check-run

check-run: all $(O)/san/smtproxy
	@rm -f $(O)/results.txt
	@$(MAKE) --no-print-directory -k unit cases fuzz-replay integration docs-check; \
	 st=$$?; scripts/run-tests --summary $(O)/results.txt; rs=$$?; \
	 [ $$st = 0 ] && [ $$rs = 0 ]

# ---------------------------------------------------------------- docs
docs: $(O)/smtproxy
	$(O)/smtproxy transforms --markdown > docs/transforms.md
	scripts/check-docs --write $(O)/smtproxy

docs-check: $(O)/smtproxy
	@scripts/run-tests "scripts/check-docs $(O)/smtproxy"

# ---------------------------------------------------------------- run / bench / fuzz
run: deps all
	@scripts/run-demo $(O)/smtproxy

$(O)/bench/bench_chain: bench/bench_chain.c $(O)/libsmt.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $< $(O)/libsmt.a $(LDLIBS)

# The end-to-end part (bench/e2e.py) runs smtproxy and a plain librdkafka
# passthrough through a real broker; BENCH_E2E=0 skips it, BENCH_RECORDS,
# BENCH_ROUNDS, BENCH_LAT_SECONDS, BENCH_PERF=1, KAFKA_BOOTSTRAP... tune it
# (see bench/e2e.py).
$(O)/bench/passthrough: bench/passthrough.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

$(O)/bench/e2e_client: bench/e2e_client.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

bench: deps $(O)/bench/bench_chain $(O)/smtproxy $(O)/bench/passthrough \
       $(O)/bench/e2e_client
	$(O)/bench/bench_chain
	@if [ "$${BENCH_E2E:-1}" != 0 ]; then \
	     py=$$(scripts/pydeps) && "$$py" bench/e2e.py --build $(O); \
	 fi

FUZZ_SECONDS ?= 60
fuzz: deps $(FUZZ_BIN)
	@scripts/run-fuzz $(FUZZ_SECONDS) $(FUZZ_BIN)

PREFIX  ?= /usr/local
DESTDIR ?=
install: $(O)/smtproxy
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(O)/smtproxy $(DESTDIR)$(PREFIX)/bin/smtproxy
	install -m 644 docs/smtproxy.1 $(DESTDIR)$(PREFIX)/share/man/man1/smtproxy.1

format:
	clang-format -i $(SMT_SRC) $(PROXY_SRC) $(wildcard smt/*.h proxy/*.h) $(UNIT_SRC) $(FUZZ_SRC)

clean:
	rm -rf $(O)
