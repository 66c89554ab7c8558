# wait.sh -- waiting on processes and conditions without fixed sleeps,
# sourced by the suites' lib.sh and by the benchmarks' (bench/lib.sh).

# ---- waiting, without fixed sleeps ----
# A busy machine (two CPU hogs beside `make check`) makes everything
# slow, so every wait polls a condition under a generous deadline.
DEADLINE=${NORI_TEST_DEADLINE:-60}

# alive PID: the process runs. A zombie is not alive: it has exited and
# only waits for its parent (or a slow PID 1) to reap it.
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }           # the name may hold spaces and parens
    [ "${stat%% *}" != Z ] && [ "${stat%% *}" != X ]
}
# live PID...: those of the PIDs that are alive.
live() {
    local p out=()
    for p in "$@"; do alive "$p" && out+=("$p"); done
    [ ${#out[@]} -eq 0 ] || printf '%s\n' "${out[@]}"
}

# poll [SECONDS] -- CMD...: runs CMD until it succeeds; 1 after SECONDS.
poll() {
    local secs=$DEADLINE
    [ "$1" = -- ] || { secs=$1; shift; }
    shift
    local end=$((SECONDS + secs))
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.05
    done
}
none_alive() { [ -z "$(live "$@")" ]; }
# wait_gone PID...: until none of them is alive; 1 if some still are.
wait_gone() { poll -- none_alive "$@"; }
