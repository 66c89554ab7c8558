# apache-lib.sh -- Apache 2.4 with a shipped deploy/apache config, for
# the suites that start one (sourced after lib.sh). Apache's children run
# as www-data, so the run directory is made theirs to write, and what
# they read (static/, deploy/members, the binary mod_fcgid runs, its
# catalog) is lib.sh's stage, not the checkout.

chmod 755 "$TMP"
APID=

# apache_start CONF VAR=value...: Apache in the foreground with a deploy/
# config (or CONF as an absolute path), on a fresh port until one binds;
# sets APID and RUNDIR.
A_CONF=
A_ENV=()
apache_start() {
    A_CONF=$1; shift
    A_ENV=("$@")
    case $A_CONF in /*) ;; *) A_CONF=$ROOT/deploy/apache/$A_CONF ;; esac
    on_fresh_port "apache ($A_CONF)" apache_run
    APID=$UPID
}
# apache_start_cold CONF: the same, but ready when Apache serves a static
# file, so that no request has reached nori yet: mod_fcgid's pool is
# empty, and the first burst of requests starts several workers at once.
apache_start_cold() {
    local try rc
    A_CONF=$1; A_ENV=()
    case $A_CONF in /*) ;; *) A_CONF=$ROOT/deploy/apache/$A_CONF ;; esac
    for try in 1 2 3 4 5 6; do
        PORT=$(free_port)
        BASE=http://127.0.0.1:$PORT
        apache_run
        APID=$UPID
        rc=0
        wait_up "$APID" "$BASE/static/nori.css" || rc=$?
        [ "$rc" = 0 ] && return 0
        kill -TERM "$APID" 2>/dev/null || true
        wait "$APID" 2>/dev/null || true
        [ "$rc" = 1 ] || break
    done
    fail "apache ($A_CONF) did not serve $BASE/static/nori.css"
    tail -n 20 "$TMP/apache.out" "$RUNDIR/apache-error.log" >&2 || true
    exit 1
}
apache_run() {
    RUNDIR=$TMP/apache.$RANDOM
    # Theirs, not everyone's: nori refuses a run directory others may write.
    mkdir -p "$RUNDIR" && chown www-data:www-data "$RUNDIR"
    local home data=() v
    home=$(stage_for_others)
    # mod_fcgid passes its workers only the FcgidInitialEnv it is given;
    # the staged catalog is one more, added on the command line so that
    # the shipped config stays as it is.
    if grep -q '^LoadModule fcgid_module' "$A_CONF"; then
        for v in "${STAGED_DATA[@]}"; do data+=(-c "FcgidInitialEnv ${v%%=*} ${v#*=}"); done
    fi
    env ${A_ENV[@]+"${A_ENV[@]}"} APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data \
        NORI_HOME="$home" NORI_RUNDIR="$RUNDIR" PORT="$PORT" \
        apache2 -f "$A_CONF" ${data[@]+"${data[@]}"} -DFOREGROUND 2>>"$TMP/apache.out" &
    UPID=$!
    track "$UPID"
}
apache_procs() { live $(pgrep -f "apache2 -f $A_CONF" || true); }
no_apache() { [ -z "$(apache_procs)" ]; }
apache_stop() {
    kill -TERM "$APID" 2>/dev/null || true
    wait "$APID" 2>/dev/null || true
    poll -- no_apache && pass || fail "apache left processes: $(apache_procs)"
}

# The nori processes mod_fcgid runs (its wrapper's command line is the
# bare path of the staged binary).
fcgid_noris() { live $(pgrep -f "^$STAGE/build/nori\$" || true); }
no_nori() { [ -z "$(fcgid_noris)" ]; }
