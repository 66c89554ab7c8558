# port.sh -- free_port: a loopback TCP port nothing listens on right now.
# Shared by the integration suites and the benchmarks. The server that
# binds it may still lose a race for it, so callers retry on failure.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}
