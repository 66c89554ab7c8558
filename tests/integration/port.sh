# port.sh -- free_port: a loopback TCP port nothing listens on right now.
# Shared by the integration suites and the benchmarks. The server that
# binds it may still lose a race for it, so callers retry on failure.
#
# NORI_TEST_PORTS=LOW-HIGH keeps every port in that range (a machine
# where other things own parts of the port space, or two `make check`
# side by side each with a range of its own); default 20000-59999.
free_port() {
    local range=${NORI_TEST_PORTS:-20000-59999} low high p tries
    if ! [[ $range =~ ^([0-9]{4,5})-([0-9]{4,5})$ ]] ||
        [ "${BASH_REMATCH[1]}" -lt 1024 ] || [ "${BASH_REMATCH[2]}" -gt 65535 ] ||
        [ "${BASH_REMATCH[1]}" -gt "${BASH_REMATCH[2]}" ]; then
        echo "free_port: NORI_TEST_PORTS=$range: want LOW-HIGH within 1024-65535" >&2
        return 1
    fi
    low=${BASH_REMATCH[1]} high=${BASH_REMATCH[2]}
    for tries in $(seq 1 $(( (high - low + 1) * 4 + 100 ))); do
        p=$(( low + (RANDOM * 32768 + RANDOM) % (high - low + 1) ))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    echo "free_port: no free port in $range" >&2
    return 1
}
