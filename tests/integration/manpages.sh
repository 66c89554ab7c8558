#!/usr/bin/env bash
# manpages.sh -- every function declared in an installed header has its
# section-3 page, every page is clean groff, and the installed pages are
# found and rendered by man(1).
#
# The functions are read from the preprocessed headers (cc -E), keeping
# only the text that comes from include/ itself (not libc's), so that
# __attribute__ lines, macros and static inline definitions are seen as
# the compiler sees them. A header another branch adds is covered the
# day it lands: every include/*.h is read.
source "$(dirname "$0")/lib.sh"

# header_functions: the names of the functions (prototypes and static
# inline definitions) declared at file scope in include/*.h, and of the
# nori_ types they define (struct, enum, typedef), one a line.
header_functions() {
    local h
    for h in "$ROOT"/include/*.h; do
        cc -E -std=c11 -D_GNU_SOURCE -I"$ROOT/include" "$h" || return 1
    done | awk -v inc="$ROOT/include/" '
        # Line markers say which file the text came from.
        /^# [0-9]+ "/ {
            f = $3; gsub(/"/, "", f)
            keep = index(f, inc) == 1 && f ~ /\.h$/
            next
        }
        keep { text = text " " $0 }
        function decl(d, body,   i, pre, name, rest) {
            # A type: a struct or enum defined here, or a typedef.
            if (d ~ /^[ \t]*typedef[ \t]/) {
                if (match(d, /\([ \t]*\*[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*\)/) ||
                    match(d, /[A-Za-z_][A-Za-z0-9_]*[ \t]*$/)) {
                    name = substr(d, RSTART, RLENGTH)
                    gsub(/[ \t()*]/, "", name)
                    if (name ~ /^nori_/) print name
                }
                return
            }
            if (body && match(d, /^[ \t]*(struct|enum|union)[ \t]+nori_[A-Za-z0-9_]*[ \t]*$/)) {
                name = d
                sub(/^[ \t]*(struct|enum|union)[ \t]+/, "", name)
                gsub(/[ \t]/, "", name)
                print name
                return
            }
            if ((i = index(d, "(")) == 0)
                return
            pre = substr(d, 1, i - 1)
            rest = substr(d, i + 1)
            if (match(rest, /^[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*\)[ \t]*\(/)) {
                name = substr(rest, RSTART, RLENGTH)    # void (name)(...)
                sub(/\).*/, "", name)
            } else if (match(pre, /[A-Za-z_][A-Za-z0-9_]*[ \t]*$/)) {
                name = substr(pre, RSTART, RLENGTH)
            } else {
                return
            }
            gsub(/[ \t]/, "", name)
            if (name != "_Static_assert" && name != "__attribute__")
                print name
        }
        END {
            # __attribute__((...)) goes first: its strings hold anything.
            while ((i = index(text, "__attribute__")) > 0) {
                j = i + length("__attribute__"); depth = 0
                for (; j <= length(text); j++) {
                    c = substr(text, j, 1)
                    if (c == "(") depth++
                    else if (c == ")" && --depth == 0) break
                }
                text = substr(text, 1, i - 1) " " substr(text, j + 1)
            }
            # File-scope declarations end at ";" or at a body "{";
            # what is inside braces (members, bodies) is skipped.
            n = length(text); depth = 0; d = ""
            for (k = 1; k <= n; k++) {
                c = substr(text, k, 1)
                if (c == "\"" || c == "\047") {     # a literal: skip it
                    q = c
                    for (k++; k <= n && substr(text, k, 1) != q; k++)
                        if (substr(text, k, 1) == "\\") k++
                    continue
                }
                if (c == "{") { if (depth++ == 0) { decl(d, 1); d = "" } continue }
                if (c == "}") { if (--depth == 0) d = ""; continue }
                if (depth > 0) continue
                if (c == ";") { decl(d, 0); d = ""; continue }
                d = d c
            }
        }' | sort -u
}

# missing_pages DIR: each function with no DIR/NAME.3, one a line.
missing_pages() {
    local f
    while read -r f; do
        [ -f "$1/$f.3" ] || echo "$f"
    done <"$TMP/functions"
}

echo "every function and type of an installed header has a page"
header_functions >"$TMP/functions" || fail "the headers do not preprocess"
n=$(wc -l <"$TMP/functions")
# The reader sees every form nori.h uses: a plain prototype, one behind
# __attribute__, a parenthesized name, a static inline definition.
for f in nori_main nori_response_printf nori_log response_puts nori_redirect \
         nori_limit_apply response_printf nori_app nori_kind nori_limit_rule; do
    grep -qx "$f" "$TMP/functions" && pass || fail "the header reader missed $f"
done
grep -Eqx 'strlen|va_start|offsetof|sizeof|NORI_SLOT_' "$TMP/functions" \
    && fail "the header reader took a name that is not a header function: $(grep -Ex 'strlen|va_start|offsetof|sizeof|NORI_SLOT_' "$TMP/functions" | head -3)" \
    || pass
[ "$n" -ge 40 ] && pass || fail "only $n functions read from include/*.h"
missing=$(missing_pages "$ROOT/man/man3")
[ -z "$missing" ] && pass || fail "functions and types without a man/man3 page: $(echo $missing)"
# The check can fail: a copy of the pages without nori_text's is caught,
# and the function is named.
cp -a "$ROOT/man/man3" "$TMP/man3"
rm "$TMP/man3/nori_text.3"
expect_eq "$(missing_pages "$TMP/man3")" nori_text "the check, with nori_text.3 deleted"

echo "every page is clean"
for page in "$ROOT"/man/man3/*.3; do
    name=$(basename "$page" .3)
    if grep -q '^\.so ' "$page"; then
        # A link is one line naming a page that exists and lists it.
        target=$(sed -n 's/^\.so //p' "$page")
        [ "$(wc -l <"$page")" = 1 ] && [ -f "$ROOT/man/$target" ] && pass \
            || { fail "$name.3: a link to a missing page ($target)"; continue; }
        page=$ROOT/man/$target
    else
        upper=$(tr '[:lower:]' '[:upper:]' <<<"$name")
        head -1 "$page" | grep -Eq "^\.TH $upper 3 \"?[0-9]{4}-[0-9]{2}-[0-9]{2}\"? \"nori @VERSION@\" \"nori library\"$" \
            && pass || fail "$name.3: its .TH line: $(head -1 "$page")"
    fi
    # The page's NAME section lists the name (what apropos and whatis read).
    sed -n '/^\.SH NAME/,/^\.SH/p' "$page" | grep -Eq "(^|[ ,])$name([ ,]|$)" && pass \
        || fail "$name.3: NAME does not list $name"
done
warn=$(cd "$ROOT/man" && for page in man3/*.3; do groff -man -z -wall "$page" 2>&1; done)
[ -z "$warn" ] && pass || fail "groff warnings: $warn"
# A page's own warning would be caught: a scratch page with a typo.
printf '.TH X 3\n.SH NAME\nx \\(zz y\n' >"$TMP/bad.3"
[ -n "$(groff -man -z -wall "$TMP/bad.3" 2>&1)" ] && pass || fail "groff -wall warns of nothing"

echo "installed, man finds and renders them"
P=$TMP/prefix
make -s -C "$ROOT" install PREFIX="$P" STATEDIR="$TMP/state" >"$TMP/install.log" 2>&1 \
    && pass || { fail "make install"; tail -20 "$TMP/install.log" >&2; finish; exit 1; }
for page in "$ROOT"/man/man3/*.3; do
    [ -f "$P/share/man/man3/${page##*/}" ] && pass || fail "not installed: man3/${page##*/}"
done
grep -l '@VERSION@' "$P"/share/man/man3/*.3 >"$TMP/unversioned" && \
    fail "@VERSION@ left in: $(cat "$TMP/unversioned")" || pass
expect_eq "$(MANPATH=$P/share/man man -w nori_text 2>&1)" "$P/share/man/man3/nori_text.3" \
    "man -w nori_text"
MANPATH=$P/share/man MANWIDTH=80 man -P cat nori_text 2>"$TMP/man.err" >"$TMP/man.out"
grep -q 'write HTML-escaped text' "$TMP/man.out" && pass \
    || fail "man nori_text renders nothing: $(head -3 "$TMP/man.err")"
# A link page renders the page it names.
MANPATH=$P/share/man MANWIDTH=80 man -P cat nori_user 2>/dev/null | grep -q 'nori_sessionless' \
    && pass || fail "man nori_user does not render nori_state(3)"
MANPATH=$P/share/man MANWIDTH=80 man -P cat 3 nori 2>/dev/null | grep -q 'nori_main(3)' \
    && pass || fail "man 3 nori does not render the overview"

echo "make uninstall removes them"
make -s -C "$ROOT" uninstall PREFIX="$P" >"$TMP/uninstall.log" 2>&1 \
    && pass || { fail "make uninstall"; tail -20 "$TMP/uninstall.log" >&2; }
left=$(ls "$P/share/man/man3" 2>/dev/null | head -3)
[ -z "$left" ] && pass || fail "pages left after uninstall: $left"
finish
