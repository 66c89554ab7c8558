# nori -- build, run, test, benchmark.
#
#   make          build build/nori
#   make run      serve the shop on http://127.0.0.1:$(PORT)/shop (lighttpd, foreground)
#   make check    every test: unit, sanitizer, integration, fuzz smoke
#   make bench    benchmarks (bench/README.md)
#   make soak     SOAK_MINUTES (30) of mixed load, then pass/fail (bench/README.md)
#   make fuzz     long fuzzing runs (FUZZ_TIME seconds per target)
#   make valgrind the unit tests and a nori serve flow under memcheck
#
# run, check and bench first install what a fresh Debian machine lacks.

# The one place the version is declared: nori --version, nori.pc and
# the installed man page all take it from here.
VERSION   = 1.0.0
PORT      ?= 8080
FUZZ_TIME ?= 300
BUILD     ?= build

# Debian packages: build (libfcgi, uthash, LMDB, hiredis, OpenSSL for TLS to
# Redis, libcrypt, pkg-config, libseccomp for the workers' sandbox; openssl
# makes the TLS test's certificates),
# tests (check, curl, spawn-fcgi, cgi-fcgi from libfcgi-bin, clang and its
# runtime for the fuzzers and sanitizers, valgrind for make valgrind,
# man-db to check the man page, python3-prometheus-client to parse the
# Prometheus metrics),
# serving (lighttpd; Apache with mod_fcgid and nginx for their tested
# configs; redis-server, redis-sentinel and redis-cli for the Redis
# store's tests), the browser walk (chromium headless, driven through
# chromium-driver by python3-selenium), the guides' own commands (setpriv
# and flock from util-linux, useradd from passwd), systemd-analyze for the
# unit's rating (systemd; it need not be PID 1), load (wrk, siege), the
# plot of the latency bench (gnuplot-nox), PHP-FPM's files sessions
# that bench/adds.sh compares nori's durable adds with (php-fpm),
# logrotate for the shipped deploy/logrotate/nori.
PACKAGES = gcc make pkg-config libfcgi-dev uthash-dev liblmdb-dev libcrypt-dev \
           check lighttpd curl \
           spawn-fcgi libfcgi-bin clang libclang-rt-14-dev wrk siege procps \
           man-db apache2 libapache2-mod-fcgid nginx-light iproute2 valgrind \
           chromium chromium-driver python3-selenium gnuplot-nox \
           libhiredis-dev libssl-dev openssl redis-server redis-sentinel redis-tools \
           systemd util-linux passwd python3-prometheus-client libseccomp-dev php-fpm logrotate

CC       ?= cc
CSTD      = -std=c11 -D_GNU_SOURCE
WARN      = -Wall -Wextra -Werror
OPT      ?= -O2 -g
SAN      ?=
# Where the binary looks for its demo data and run directory by default:
# a checkout's build finds its own wherever it is started from (one-shot
# CGI runs included); `make install` builds again with the installed paths.
DATADIR  ?= $(CURDIR)/shop/data
RUNDIR   ?= $(CURDIR)/var
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(SAN) -Iinclude -DNORI_DATADIR='"$(DATADIR)"' \
             -DNORI_RUNDIR='"$(RUNDIR)"' -DNORI_VERSION='"$(VERSION)"'

# make install [PREFIX=/usr/local] [DESTDIR=staging] [STATEDIR=/var/lib/nori]
PREFIX   ?= /usr/local
STATEDIR ?= /var/lib/nori
SHARE     = $(PREFIX)/share/nori
# What libnori.a needs, and what the shop adds (crypt(3) for its users).
LIB_LIBS  = -lfcgi -llmdb -lhiredis -lssl -lcrypto -lseccomp -lpthread
LDLIBS    = $(LIB_LIBS) -lcrypt

# libnori.a: the library every application links (include/nori.h).
MODULES   = fcgi/arena.c fcgi/response.c fcgi/worker.c fcgi/serve.c fcgi/stats.c fcgi/limit.c \
            fcgi/records.c fcgi/sandbox.c \
            fcgi/rundir.c fcgi/cookie.c fcgi/origin.c fcgi/httpdate.c \
            nav/nav.c nav/route.c \
            session/key.c session/record.c session/session.c session/store.c session/storespec.c \
            session/lmdb.c session/redis.c session/memory.c \
            session/sweeper.c session/visit.c \
            nori/config.c nori/service.c nori/dispatch.c nori/render.c nori/action.c \
            nori/status.c nori/authorize.c nori/page.c nori/html.c nori/cache.c nori/main.c \
            nori/harness.c
# The demo shop, an application on it (shop/main.c holds its main()).
SHOP      = shop/textfile.c shop/catalog.c shop/users.c shop/throttle.c \
            shop/fields.c shop/state.c shop/layout.c shop/pages.c shop/actions.c
OBJS      = $(MODULES:%.c=$(BUILD)/obj/%.o)
SHOP_OBJS = $(SHOP:%.c=$(BUILD)/obj/%.o)
HEADERS   = $(wildcard include/*.h fcgi/*.h nav/*.h session/*.h nori/*.h shop/*.h)
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/%)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)

FUZZ_CC    = clang
FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude
FUZZ_BINS  = $(BUILD)/fuzz_query $(BUILD)/fuzz_form $(BUILD)/fuzz_record \
             $(BUILD)/fuzz_headers $(BUILD)/fuzz_fcgi $(BUILD)/fuzz_cookie \
             $(BUILD)/fuzz_storespec $(BUILD)/fuzz_html
# The pure parsers the fuzzers call: no libfcgi, no store (cookie.c and
# origin.c read strings only; http.h merely declares the rest), the store
# spec parser (storespec.c: strings only), and the tests' application
# (tests/unit/testapp.c: the grammars parsed by, and the state codec that
# decodes what a record carries; no shop).
FUZZ_DEPS  = nav/nav.c session/record.c session/session.c session/key.c \
             fcgi/cookie.c fcgi/origin.c fcgi/records.c session/storespec.c \
             tests/unit/testapp.c
FUZZ_HDRS  = tests/fuzz/fuzz_check.h tests/fuzz/invariant.h tests/unit/testapp.h
# fuzz_fcgi hands what records_scan accepts to libfcgi itself.
$(BUILD)/fuzz_fcgi: FUZZ_LIBS = -lfcgi

.PHONY: all deps lib-libs run check unit unit-asan integration fuzz-smoke fuzz bench soak install uninstall clean valgrind

all: $(BUILD)/nori

# The dependency step: quick when everything is there, apt-get otherwise.
deps:
	@missing=$$(for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing" $$missing; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# The build's identity (fcgi/build.h): a digest of every file that shapes
# an answer, rewritten only when one of them changes.
ID_SRCS   = $(sort $(MODULES) $(SHOP) $(HEADERS) shop/main.c $(wildcard static/*))
$(BUILD)/build_id.c: $(ID_SRCS)
	@mkdir -p $(dir $@)
	@printf 'const char nori_build_id[] = "%s";\n' \
	  "$$(cat $(ID_SRCS) | sha256sum | cut -c1-16)" > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/build_id.o: $(BUILD)/build_id.c
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# libnori.a exports only nori_ names: its objects are linked into one
# (ld -r) and every other global made local, so an application's own
# store_get or arena_alloc neither clashes nor is taken for ours. The
# library's own tests call internals: they link libnori-internal.a, the
# same objects unlinked (docs/design.md, Architecture).
$(BUILD)/libnori-internal.a: $(OBJS) $(BUILD)/obj/build_id.o
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libnori.a: $(OBJS) $(BUILD)/obj/build_id.o
	rm -f $@ $(BUILD)/obj/nori.o
	ld -r -o $(BUILD)/obj/nori.o $^
	nm -g --defined-only $(BUILD)/obj/nori.o | awk '$$3 ~ /^nori_/ { print $$3 }' \
	  > $(BUILD)/obj/nori.syms
	objcopy --keep-global-symbols=$(BUILD)/obj/nori.syms $(BUILD)/obj/nori.o
	ar rcs $@ $(BUILD)/obj/nori.o

$(BUILD)/libshop.a: $(SHOP_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/nori: shop/main.c $(BUILD)/libshop.a $(BUILD)/libnori.a
	$(CC) $(CFLAGS_ALL) $< $(BUILD)/libshop.a $(BUILD)/libnori.a $(LDLIBS) -o $@

$(BUILD)/counter: examples/counter/counter.c $(BUILD)/libnori.a
	$(CC) $(CFLAGS_ALL) $< $(BUILD)/libnori.a $(LIB_LIBS) -o $@

# A test-only application whose pages make the calls a worker's sandbox
# refuses (tests/integration/sandbox.sh); never part of all or install.
$(BUILD)/sandbox-probe: tests/apps/sandbox-probe.c $(BUILD)/libnori.a
	$(CC) $(CFLAGS_ALL) $< $(BUILD)/libnori.a $(LIB_LIBS) -o $@

# The library's unit tests need an application, not the shop: they link
# their own (tests/unit/testapp.c) and the library's libraries only.
# Those in SHOP_TESTS test the shop's own code and link libshop.a too.
TESTAPP_OBJ = $(BUILD)/obj/tests/unit/testapp.o
SHOP_TESTS  = $(BUILD)/test_catalog $(BUILD)/test_views $(BUILD)/test_harden $(BUILD)/test_cart
$(TESTAPP_OBJ): tests/unit/testapp.h

$(BUILD)/test_%: tests/unit/test_%.c tests/unit/drive.h $(TESTAPP_OBJ) $(BUILD)/libnori-internal.a
	$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -I. $< $(TESTAPP_OBJ) $(BUILD)/libnori-internal.a \
	  $(LIB_LIBS) $(CHECK_LIBS) -o $@

$(SHOP_TESTS): $(BUILD)/test_%: tests/unit/test_%.c $(TESTAPP_OBJ) $(BUILD)/libshop.a \
               $(BUILD)/libnori-internal.a
	$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -I. $< $(TESTAPP_OBJ) $(BUILD)/libshop.a \
	  $(BUILD)/libnori-internal.a $(LDLIBS) $(CHECK_LIBS) -o $@

$(BUILD)/floor: bench/floor.c
	$(CC) $(CSTD) $(WARN) -O2 $< -lfcgi -o $@

$(BUILD)/commit-floor: bench/commit-floor.c
	$(CC) $(CSTD) $(WARN) -O2 $< -lfcgi -llmdb -o $@

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HDRS) $(FUZZ_DEPS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(FUZZ_CC) $(FUZZ_FLAGS) -I. $< $(FUZZ_DEPS) $(FUZZ_LIBS) -o $@

# The binding fuzzer runs the real visit on the real memory store (and
# no other backend: fuzz_cookie.c refuses them).
FUZZ_COOKIE_DEPS = session/visit.c session/store.c session/memory.c \
                   session/sweeper.c fcgi/stats.c fcgi/arena.c fcgi/response.c fcgi/limit.c
$(BUILD)/fuzz_cookie: tests/fuzz/fuzz_cookie.c $(FUZZ_HDRS) $(FUZZ_DEPS) \
                      $(FUZZ_COOKIE_DEPS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(FUZZ_CC) $(FUZZ_FLAGS) -I. $< $(FUZZ_DEPS) $(FUZZ_COOKIE_DEPS) -lpthread -o $@

# The HTML writer fuzzer runs nori/html.c on page.c's output calls, with
# the session layer linked but never entered (fuzz_html.c stubs its logs).
FUZZ_HTML_DEPS = nori/html.c nori/page.c nav/route.c $(FUZZ_COOKIE_DEPS)
$(BUILD)/fuzz_html: tests/fuzz/fuzz_html.c $(FUZZ_DEPS) $(FUZZ_HTML_DEPS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(FUZZ_CC) $(FUZZ_FLAGS) -I. $< $(FUZZ_DEPS) $(FUZZ_HTML_DEPS) -lpthread -o $@

# The run directory is NORI_RUNDIR when set, var/ otherwise. A lock in
# it (held by lighttpd, inherited as fd 9) refuses a second make run on
# the same directory: lighttpd would find the first one's sockets alive,
# start no workers of its own, and silently share them.
run: deps $(BUILD)/nori
	@rundir=$${NORI_RUNDIR:-$(CURDIR)/var}; mkdir -p -m 0700 "$$rundir" || exit 1; \
	exec 9>>"$$rundir/make-run.lock"; \
	if ! flock -n 9; then \
	  echo "make run: another make run is serving from $$rundir; stop it, or set NORI_RUNDIR to another directory" >&2; \
	  exit 1; \
	fi; \
	echo "nori: http://127.0.0.1:$(PORT)/shop  (Ctrl-C stops lighttpd and its workers)"; \
	NORI_HOME=$(CURDIR) NORI_RUNDIR=$$rundir PORT=$(PORT) \
	  exec lighttpd -D -f $(CURDIR)/lighttpd.conf

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# The same unit tests built with AddressSanitizer and UBSan, in their own tree.
unit-asan:
	$(MAKE) --no-print-directory BUILD=build/asan OPT='-O1 -g -fno-omit-frame-pointer' \
	  SAN='-fsanitize=address,undefined -fno-sanitize-recover=all' unit

integration: $(BUILD)/nori $(BUILD)/libnori-internal.a
	bash tests/integration/run.sh

# The unit tests and a flow through `nori serve` under memcheck, each
# process checked for errors and definite leaks (tests/valgrind.sh).
# Slow (minutes, yescrypt under memcheck), so not part of check.
valgrind: deps $(BUILD)/nori $(UNIT_BINS)
	bash tests/valgrind.sh

# A short run of each fuzzer over its committed corpus: proves the targets
# build and run. Long runs are `make fuzz`.
fuzz-smoke: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
	  n=$$(basename $$f | sed 's/fuzz_//'); \
	  mkdir -p $(BUILD)/corpus/$$n; \
	  $$f -max_total_time=10 -max_len=4096 -artifact_prefix=$(BUILD)/fuzz-$$n- \
	    $(BUILD)/corpus/$$n tests/fuzz/corpus/$$n >$(BUILD)/fuzz-$$n.log 2>&1 \
	    || { tail -40 $(BUILD)/fuzz-$$n.log; exit 1; }; \
	  echo "fuzz_$$n: $$(grep -E '^Done [0-9]+ runs' $(BUILD)/fuzz-$$n.log)"; \
	done

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
	  n=$$(basename $$f | sed 's/fuzz_//'); \
	  mkdir -p $(BUILD)/corpus/$$n; \
	  $$f -max_total_time=$(FUZZ_TIME) -max_len=4096 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/ $(BUILD)/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

check: deps
	$(MAKE) --no-print-directory all unit
	$(MAKE) --no-print-directory unit-asan
	$(MAKE) --no-print-directory integration fuzz-smoke

bench: deps $(BUILD)/nori $(BUILD)/floor $(BUILD)/commit-floor
	bash bench/run.sh
	bash bench/rss.sh
	bash bench/sessions.sh
	bash bench/deploy.sh
	bash bench/nginx-cache.sh
	bash bench/latency.sh
	bash bench/fcgid-cold.sh
	bash bench/frontcost.sh
	bash bench/frontinstr.sh
	bash bench/stores.sh
	bash bench/adds.sh
	bash bench/table.sh
	bash bench/catalog-scale.sh

# Half an hour (SOAK_MINUTES) at -c100: memory, store size, errors and
# counters sampled every minute (bench/README.md). Not part of check.
soak: deps $(BUILD)/nori
	bash bench/soak.sh

# The configurations name the checkout's paths (build/nori under
# NORI_HOME, deploy/members, the unit's /usr/local/bin/nori); installed,
# they name the installed binary and the members directory under examples/.
INSTALL_PATHS = -e 's|home + "/build/nori|"$(PREFIX)/bin/nori|g' \
                -e 's|$${NORI_HOME}/build/nori|$(PREFIX)/bin/nori|g' \
                -e 's|=/usr/local/bin/nori|=$(PREFIX)/bin/nori|g' \
                -e 's|home + "/deploy"|home + "/examples"|g' \
                -e 's|/deploy/members|/examples/members|g'

# The binary is rebuilt in its own tree with the installed paths compiled
# in; data, stylesheet, examples and the man page go under PREFIX. An
# upgrade is a second make install: what the operator may have edited
# (the catalog and users files) is installed only when absent, the new
# default going beside it as *.dist; no existing directory is re-chmodded;
# the binary is replaced by a rename, so that a running nori serve
# re-executes a whole file on SIGHUP. STATEDIR is not made: nori makes its
# run directory itself, 0700 and owned by the user it runs as (a
# root-owned one is refused), the guides make it for their user, and the
# systemd unit's StateDirectory= for its own (docs/design.md).
INSTALL_DATA = shop/data/catalog.tsv shop/data/users
INSTALL_FILES = bin/nori lib/libnori.a include/nori.h include/nori_test.h lib/pkgconfig/nori.pc \
                share/man/man8/nori.8 share/nori/static/nori.css \
                share/nori/static/favicon.ico $(MAN3:man/%=share/man/%)
# The library's section-3 pages, one per public function and type
# (tests/integration/manpages.sh checks that none is missing).
MAN3 = $(wildcard man/man3/*.3)
install:
	rm -rf build/install    # the paths are compiled in: never reuse objects
	$(MAKE) --no-print-directory BUILD=build/install DATADIR=$(SHARE)/data \
	  RUNDIR=$(STATEDIR) build/install/nori build/install/libnori.a
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/man/man3 \
	  $(DESTDIR)$(SHARE)/data $(DESTDIR)$(SHARE)/static $(DESTDIR)$(SHARE)/examples
	install -m 755 build/install/nori $(DESTDIR)$(PREFIX)/bin/.nori.new
	mv -f $(DESTDIR)$(PREFIX)/bin/.nori.new $(DESTDIR)$(PREFIX)/bin/nori
	install -m 644 build/install/libnori.a $(DESTDIR)$(PREFIX)/lib/libnori.a
	install -m 644 include/nori.h $(DESTDIR)$(PREFIX)/include/nori.h
	install -m 644 include/nori_test.h $(DESTDIR)$(PREFIX)/include/nori_test.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBS@|$(LIB_LIBS)|' -e 's|@VERSION@|$(VERSION)|' \
	  nori.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/nori.pc
	sed -e 's|@VERSION@|$(VERSION)|' man/nori.8 > $(DESTDIR)$(PREFIX)/share/man/man8/nori.8
	chmod 644 $(DESTDIR)$(PREFIX)/share/man/man8/nori.8
	for f in $(MAN3); do \
	  sed -e 's|@VERSION@|$(VERSION)|' $$f > $(DESTDIR)$(PREFIX)/share/man/$${f#man/} && \
	  chmod 644 $(DESTDIR)$(PREFIX)/share/man/$${f#man/} || exit 1; \
	done
	@for f in $(INSTALL_DATA); do \
	  dst=$(DESTDIR)$(SHARE)/data/$${f##*/}; \
	  if [ ! -e $$dst ]; then echo "install $$f $$dst"; install -m 644 $$f $$dst; \
	  elif cmp -s $$f $$dst; then rm -f $$dst.dist; \
	  else echo "install: $$dst kept (edited); the new default is $$dst.dist"; \
	    install -m 644 $$f $$dst.dist; fi; \
	done
	install -m 644 static/nori.css $(DESTDIR)$(SHARE)/static/nori.css
	install -m 644 static/favicon.ico $(DESTDIR)$(SHARE)/static/favicon.ico
	install -m 644 lighttpd.conf $(DESTDIR)$(SHARE)/examples/lighttpd.conf
	for f in $$(find deploy -type f); do \
	  mkdir -p $(DESTDIR)$(SHARE)/examples/$$(dirname $${f#deploy/}); \
	  install -m 644 $$f $(DESTDIR)$(SHARE)/examples/$${f#deploy/}; \
	done
	find $(DESTDIR)$(SHARE)/examples -type f -name '*.conf' -o -type f -name '*.service' \
	  | xargs sed -i $(INSTALL_PATHS)

# Removes what install wrote and keeps the data (the catalog and users
# files; their *.dist go) and STATEDIR: the sessions and counters.
uninstall:
	rm -f $(INSTALL_FILES:%=$(DESTDIR)$(PREFIX)/%) \
	  $(INSTALL_DATA:shop/data/%=$(DESTDIR)$(SHARE)/data/%.dist)
	rm -f $(DESTDIR)$(SHARE)/examples/lighttpd.conf
	for f in $$(find deploy -type f); do rm -f $(DESTDIR)$(SHARE)/examples/$${f#deploy/}; done
	-find $(DESTDIR)$(SHARE)/examples $(DESTDIR)$(SHARE)/static \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig -depth -type d -empty -delete 2>/dev/null

clean:
	rm -rf build

# What a test links an application of its own with (tests/integration/apps.sh).
lib-libs:
	@echo $(LIB_LIBS)
