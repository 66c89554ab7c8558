#!/usr/bin/env bash
# layers.sh -- the seam between nori and its applications, checked on the
# sources: data flows one way (docs/design.md, "Layers"), so a folder may
# include only the folders below it; applications reach nori through
# nori.h alone; nothing of the shop's lives below shop/.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# The folders each folder may include from (besides itself and nori.h).
declare -A below=(
    [nav]=""
    [fcgi]="nav"
    [session]="fcgi nav"
    [nori]="fcgi nav session"
    [shop]=""
    [examples/counter]=""
)

echo "includes point down"
for dir in "${!below[@]}"; do
    for f in "$dir"/*.[ch]; do
        while read -r inc; do
            case $inc in
            nori.h) continue ;;
            ../*/*) target=${inc#../}; target=${target%%/*} ;;
            *) continue ;;              # the folder's own headers
            esac
            case " ${below[$dir]} " in
            *" $target "*) pass ;;
            *) fail "$f includes $inc: $dir may include only from: ${below[$dir]:-nothing}" ;;
            esac
        done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
    done
done
grep -n '#include <nori.h>\|#include "nori.h"' shop/*.h examples/counter/*.c >/dev/null \
    && pass || fail "the applications include nori.h"

echo "no shop below shop/"
hits=$(grep -rniE 'cart|counter|qty|password' fcgi nav session include || true)
[ -z "$hits" ] && pass || fail "shop words below shop/: $hits"

# The library's tests and fuzzers run on an application of their own
# (tests/unit/testapp.c); only the tests the Makefile lists in SHOP_TESTS,
# which test the shop's own code, may reach into shop/.
echo "the library's tests need no shop"
shop_tests=$(make -s --no-print-directory --eval 'print-shop-tests: ; @echo $(SHOP_TESTS)' print-shop-tests)
for f in tests/unit/*.[ch] tests/fuzz/*.[ch]; do
    case " $shop_tests " in *"/$(basename "$f" .c) "*) continue ;; esac
    grep -n '#include ".*shop/' "$f" && fail "$f includes the shop, but is not in SHOP_TESTS" || pass
done
hits=$(grep -niE 'cart|counter|qty|password' tests/unit/testapp.[ch] || true)
[ -z "$hits" ] && pass || fail "shop words in the tests' application: $hits"
fuzz_deps=$(make -s --no-print-directory --eval 'print-fuzz-deps: ; @echo $(FUZZ_DEPS)' print-fuzz-deps)
case " $fuzz_deps " in *" shop/"*) fail "the fuzzers compile the shop: $fuzz_deps" ;; *) pass ;; esac
finish
