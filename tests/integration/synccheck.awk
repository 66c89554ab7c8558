# synccheck.awk -- reads a synctrace.c log and fails (exit 1) if any
# answer was written before a sync covering its commit had returned.
#
# A new session's key first appears in the data pages of the commit that
# made it; that commit is the first meta write (M) after. It is durable
# once a sync that began after its last write has returned: after its
# data pages (the M itself is O_DSYNC, LMDB's default) or after the M
# (NORI_SYNC=none|background write it without O_DSYNC). "covered" is the
# line of the latest S0 whose S1 has come: every write logged before it
# is durable.
#
# Prints "answers N commits N keys-per-commit X violations N".
function keyed(tok,    i) {
    for (i = 1; i + 21 <= length(tok); i++)
        if (!(substr(tok, i, 22) in made)) {
            made[substr(tok, i, 22)] = NR
            pending[substr(tok, i, 22)] = 1
        }
}
$1 == "D" {
    for (f = 3; f <= NF; f++) keyed($f)
    lastd = NR
    next
}
$1 == "M" {
    commits++
    need = $3 == 1 ? lastd : NR
    for (k in pending) { commit[k] = NR; needs[k] = need }
    delete pending
    next
}
$1 == "S0" { began[$2] = NR; next }
$1 == "S1" { if (began[$2] > covered) covered = began[$2]; next }
$1 == "A" {
    answers++
    k = $3
    if (!(k in made)) {
        bad++; if (bad <= 5) printf "answer %s (line %d): its record was never written\n", k, NR
    } else if (!(k in commit)) {
        bad++; if (bad <= 5) printf "answer %s (line %d): before its commit\n", k, NR
    } else if (covered <= needs[k]) {
        bad++; if (bad <= 5) printf "answer %s (line %d): before a sync covering its commit (line %d)\n", k, NR, commit[k]
    } else if (!(commit[k] in seen)) {
        seen[commit[k]] = 1; used++
    }
    next
}
END {
    printf "answers %d commits %d answers-per-commit %.2f violations %d\n",
        answers, commits, used ? (answers - bad) / used : 0, bad
    exit bad > 0 || answers == 0
}
