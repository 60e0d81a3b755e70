# Vireo: one hand-written Makefile. `make` builds ./vireo; see README.md for the rest.
#   make SANITIZE=address,undefined   builds into build/asan with sanitizers

CC       ?= cc
PKGS     := sqlite3 javascriptcoregtk-4.1 libcrypto jansson libcurl libzip
PORT     ?= 8788
# A Node.js for the tests that tools/deps.sh installs when the system's is older than 20
# (Debian 12's is 18); absent otherwise, and then this PATH entry finds nothing.
export PATH := $(CURDIR)/build/node/node_modules/.bin:$(PATH)

SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD    ?= build/release
OPT      ?= -O2
else
BUILD    ?= build/asan
OPT      ?= -O1
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Wno-unused-parameter
ifneq ($(CI),)
WARN     += -Werror
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   += -std=gnu11 -D_GNU_SOURCE -g $(OPT) $(WARN) $(SANFLAGS) -Isrc -I$(BUILD)/gen $(PKG_CFLAGS) -MMD -MP
LDFLAGS  += $(SANFLAGS)
LDLIBS   += $(PKG_LIBS) -lm -lpthread

# the npm polyfills the binary embeds (src/js/polyfill/<name>.js; rules below)
POLYFILLS := url immer
LIB_SRC  := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/prelude.o $(BUILD)/gen/client_js.o \
            $(BUILD)/gen/codegen_types.o $(POLYFILLS:%=$(BUILD)/gen/polyfill_%.o)
PRELUDE  := $(sort $(wildcard src/js/prelude/*.js))
CLIENT_JS := $(sort $(wildcard clients/js/src/*.js))
UNIT_SRC := $(wildcard tests/unit/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all deps test-deps npm-deps demo demo-convex demo-tasks test test-suites test-unit test-asan \
        test-crash fuzz bench clean format

all: deps $(BUILD)/vireo
ifeq ($(SANITIZE),)
	@ln -sf $(BUILD)/vireo vireo
endif

# Installs what a fresh Debian machine lacks (tools/deps.sh says what and how; it waits for an apt
# that holds the lock): `deps` what building and running need (compiler, libraries, node and npm),
# `test-deps` also what only the tests need (clang, chromium, the sqlite3 shell, Node >= 20); both
# then the npm packages (esbuild for `vireo dev` and the build, core-js-pure bundled into the binary,
# ws and playwright-core for the tests). Do nothing when all are present.
# `tools/deps.sh --test --dry-run` shows what would be installed.
deps:
	@tools/deps.sh
	@$(MAKE) --no-print-directory npm-deps

test-deps:
	@tools/deps.sh --test
	@$(MAKE) --no-print-directory npm-deps

npm-deps: node_modules/.installed
node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

$(BUILD)/vireo: $(BUILD)/src/cli/main.o $(BUILD)/libvireo.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libvireo.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The prelude's JavaScript is compiled into the binary as one string, files in name order.
$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -o $@ $<
$(BUILD)/gen/prelude.c: $(PRELUDE) $(BUILD)/tools/embed
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed vr_prelude_js $(PRELUDE) > $@

# Web API polyfills from npm (src/js/polyfill/<name>.js entries; docs/functions.md "Web APIs"),
# bundled by esbuild (tools/bundle_polyfill.mjs) into scripts the binary embeds apart from the
# prelude, which evaluates one on the first use of its API (src/js/native_polyfill.c).
POLYFILL_C := $(POLYFILLS:%=$(BUILD)/gen/polyfill_%.c)
$(BUILD)/gen/polyfill_url.js: src/js/polyfill/domain_to_ascii.js
$(BUILD)/gen/polyfill_%.js: src/js/polyfill/%.js tools/bundle_polyfill.mjs node_modules/.installed
	@mkdir -p $(dir $@)
	node tools/bundle_polyfill.mjs $< $@.tmp $*Polyfill && mv $@.tmp $@
$(BUILD)/gen/polyfill_%.c: $(BUILD)/gen/polyfill_%.js $(BUILD)/tools/embed
	$(BUILD)/tools/embed vr_polyfill_$*_js $< > $@.tmp && mv $@.tmp $@
.PRECIOUS: $(BUILD)/gen/polyfill_%.js $(BUILD)/gen/polyfill_%.c
$(BUILD)/gen/polyfill_%.o: $(BUILD)/gen/polyfill_%.c
	$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/gen/prelude.o: $(BUILD)/gen/prelude.c
	$(CC) $(CFLAGS) -c -o $@ $<

# The JS client package (clients/js/src/*.js), one table entry per file, served by the binary at
# GET /_vireo/client/<file>.js (src/proto/static_client.c).
$(BUILD)/gen/client_js.c: $(CLIENT_JS) $(BUILD)/tools/embed
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed --table vr_client_js $(CLIENT_JS) > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/client_js.o: $(BUILD)/gen/client_js.c
	$(CC) $(CFLAGS) -c -o $@ $<

# The type library `vireo codegen` writes to _generated/vireo.d.ts (src/cli/codegen.c).
CODEGEN_TYPES := src/cli/types/vireo.d.ts
$(BUILD)/gen/codegen_types.c: $(CODEGEN_TYPES) $(BUILD)/tools/embed
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed vr_codegen_types $(CODEGEN_TYPES) > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/codegen_types.o: $(BUILD)/gen/codegen_types.c
	$(CC) $(CFLAGS) -c -o $@ $<

# Unit tests: one binary per tests/unit/*.c, linked against the library.
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libvireo.a tests/test.h $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libvireo.a $(LDFLAGS) $(LDLIBS)

test-unit: all $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

# The README's test command: release suites, the same suites under ASan+UBSan, a short fuzz run
# of every target; ends with one "N passed, N failed" line over all of them.
test: test-deps
	@tests/all.sh

# Unit + integration suites on one build ($(BUILD)).
test-suites: test-deps all $(UNIT_BIN)
	@VIREO_BIN=$(abspath $(BUILD)/vireo) tests/run.sh $(UNIT_BIN)

# quarantine_size_mb: ASan keeps freed blocks (256 MiB by default) before reuse; the memory-limit
# test frees ~128 MiB at a time and checks RSS comes back, so the quarantine is kept smaller.
test-asan: test-deps
	@ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=0:abort_on_error=0:quarantine_size_mb=64 \
	 LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 $(MAKE) --no-print-directory SANITIZE=address,undefined test-suites

# The crash suite (tests/crash/README.md): SIGKILL at random moments, every acknowledged write
# must survive. CRASH_ROUNDS=200 make test-crash for a long run (default 5, part of `make test`).
test-crash: test-deps all
	@VIREO_BIN=$(abspath $(BUILD)/vireo) tests/crash/run.sh

# libFuzzer targets (clang), each run for FUZZ_SECONDS (15 by default, 1800 for a long run).
# The library is compiled once (coverage-instrumented, ASan+UBSan) into build/fuzz/libvireo.a and
# every target links it: from an archive the linker takes only the members a target lacks, so a
# target that #includes a source to reach its statics (FUZZ_INCLUDES_*) keeps its own copy.
FUZZ_SECONDS ?= 15
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_LIB_SRC := $(filter-out src/cli/main.c,$(LIB_SRC))
FUZZ_GEN := prelude client_js codegen_types $(POLYFILLS:%=polyfill_%)
FUZZ_OBJ := $(FUZZ_LIB_SRC:%.c=build/fuzz/obj/%.o) $(FUZZ_GEN:%=build/fuzz/obj/gen/%.o)
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -g -O1 -Isrc $(PKG_CFLAGS) -MMD -MP
FUZZ_INCLUDES_fuzz_sync := src/proto/sync.c
FUZZ_INCLUDES_fuzz_convex_sync := src/proto/convex_sync.c
FUZZ_INCLUDES_fuzz_actors := src/proto/actors.c
build/fuzz/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build/fuzz/libvireo.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
.SECONDEXPANSION:
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libvireo.a $$(FUZZ_INCLUDES_fuzz_$$*)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< build/fuzz/libvireo.a \
		$(PKG_LIBS) -lm -lpthread
-include $(FUZZ_OBJ:.o=.d) $(FUZZ_BIN:=.d)
fuzz: test-deps $(FUZZ_BIN)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_BIN)

# Benchmarks (bench/, docs/benchmarks.md): the load generator, then every scenario (or
# SCENARIO="name ...") against a release server with DURABILITY=full (default) or relaxed.
# Misses are reported, not failures.
LOADGEN_SRC := bench/loadgen.c bench/lg.c bench/hist.c src/base/buf.c src/base/mem.c
build/release/bench/loadgen: $(LOADGEN_SRC) bench/lg.h bench/hist.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE -g -O2 $(WARN) -Isrc -o $@ $(LOADGEN_SRC) -lm
# The floor program (bench/ref/floor*.c): what the kernel alone costs, for the ratios of
# mutations, push-latency, fanout and http-query. Its io_uring mode needs liburing-dev
# (tools/deps.sh installs it); without it the program builds with the other modes and says so
# when asked for io_uring.
FLOOR_SRC := bench/ref/floor.c bench/ref/floor_srv.c bench/ref/floor_push.c bench/ref/floor_wal.c \
             bench/hist.c \
             src/base/buf.c src/base/mem.c src/base/base64.c
HAVE_LIBURING := $(shell pkg-config --exists liburing 2>/dev/null && echo 1)
FLOOR_CFLAGS := $(if $(HAVE_LIBURING),-DHAVE_LIBURING)
FLOOR_LIBS := $(if $(HAVE_LIBURING),-luring) -lcrypto -lpthread -lm
build/release/bench/floor: $(FLOOR_SRC) bench/ref/floor.h bench/hist.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE -g -O2 $(WARN) $(FLOOR_CFLAGS) -Isrc -o $@ $(FLOOR_SRC) $(FLOOR_LIBS)
# its unit test includes floor_srv.c and floor_push.c, so it needs the same switches
$(BUILD)/tests/test_bench_floor: $(filter bench/%,$(FLOOR_SRC)) bench/ref/floor.h bench/hist.h
$(BUILD)/tests/test_bench_floor: private CFLAGS += $(FLOOR_CFLAGS)
$(BUILD)/tests/test_bench_floor: private LDLIBS += $(FLOOR_LIBS)
bench: deps
	@$(MAKE) --no-print-directory SANITIZE= build/release/vireo build/release/bench/loadgen \
	 build/release/bench/floor
	@VIREO=build/release/vireo LOADGEN=build/release/bench/loadgen FLOOR=build/release/bench/floor \
	 DURABILITY=$(DURABILITY) bench/run.sh $(SCENARIO)

# `make demo PORT=9000` for another port.
demo: all
	./vireo dev examples/chat --port $(PORT)

# The Convex example (examples/convex-chat/README.md): its React page bundled by esbuild, then served.
demo-convex: all
	node examples/convex-chat/build.mjs
	./vireo dev examples/convex-chat --port $(PORT)

# examples/tasks (examples/tasks/README.md): the page and the SSR render bundled by esbuild, then
# `vireo dev` on PORT and the example's SSR server (node:http) on SSR_PORT, both stopped together.
SSR_PORT ?= 3000
demo-tasks: all
	node examples/tasks/build.mjs
	./vireo dev examples/tasks --port $(PORT) & vireo_pid=$$!; \
	trap 'kill $$vireo_pid' EXIT INT TERM; \
	node examples/tasks/ssr.mjs --vireo http://127.0.0.1:$(PORT) --port $(SSR_PORT)

clean:
	rm -rf build vireo

format:
	clang-format -i $(wildcard src/*/*.c src/*/*.h tests/unit/*.c tests/fuzz/*.c bench/*.c bench/ref/*.c)

-include $(LIB_OBJ:.o=.d) $(BUILD)/src/cli/main.d
