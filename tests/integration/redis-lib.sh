# redis-lib.sh -- real redis-server (and redis-sentinel) processes for the
# suites of the Redis store, sourced after lib.sh: loopback ports found
# free, no persistence, their files under $TMP, tracked so that a suite
# that stops early leaves none behind.

# answers PID PORT: until the server PID answers PING on PORT (0), or
# is gone (1: its port was taken meanwhile, say), or the deadline passes.
pongs() { ! alive "$1" || [ "$(redis-cli -p "$2" ping 2>/dev/null)" = PONG ]; }
answers() { poll -- pongs "$1" "$2" && alive "$1"; }

# redis_up PORT PIDVAR [args...]: one redis-server on PORT; 1 when it
# does not answer PING (the port was taken meanwhile, say).
# (The local is _pid, not pid: a caller passing var=pid must get it, not
# a local of the same name that printf -v would set instead.)
redis_up() {
    local port=$1 var=$2 _pid
    shift 2
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --dir "$TMP" --logfile "$TMP/redis.$port.log" "$@" &
    _pid=$!
    track "$_pid"
    printf -v "$var" %s "$_pid"
    answers "$_pid" "$port"
}

# redis_start [args...]: a redis-server on a free port, with a unix
# socket beside it; sets RPORT, RPID, RSOCK.
redis_start() {
    local try
    for try in 1 2 3 4 5; do
        RPORT=$(free_port)
        RSOCK=$TMP/redis.$RPORT.sock
        redis_up "$RPORT" RPID --unixsocket "$RSOCK" --unixsocketperm 700 "$@" && return 0
        redis_kill "$RPID"
    done
    cat "$TMP"/redis.*.log >&2 || true
    fail "cannot start redis-server"
    exit 1
}

# redis_kill PID: SIGTERM, and waits until it is gone (reaped, not a zombie).
redis_kill() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# redis_restart [args...]: the same server again on the same port and
# socket (a Redis that comes back); 1 if it cannot have its port back.
redis_restart() {
    local try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        redis_up "$RPORT" RPID --unixsocket "$RSOCK" --unixsocketperm 700 "$@" && return 0
        redis_kill "$RPID"
        sleep 0.2
    done
    return 1
}

# rcli ARGS...: redis-cli against the test's server, without the \r.
rcli() { redis-cli -p "$RPORT" "$@" | tr -d '\r'; }

# sentinel_up PORT MASTER-PORT PIDVAR: a redis-sentinel watching the
# master "shop" on 127.0.0.1:MASTER-PORT, quorum 2, judging a master
# down after 2 s (less makes a loaded machine fail over for nothing); 1
# when it does not answer PING.
sentinel_up() {
    local port=$1 mport=$2 var=$3 conf=$TMP/sentinel.$1.conf _pid
    cat > "$conf" <<CONF
port $port
bind 127.0.0.1
daemonize no
dir $TMP
logfile $TMP/sentinel.$port.log
sentinel monitor shop 127.0.0.1 $mport 2
sentinel down-after-milliseconds shop 2000
sentinel failover-timeout shop 10000
sentinel parallel-syncs shop 2
CONF
    redis-sentinel "$conf" &
    _pid=$!
    track "$_pid"
    printf -v "$var" %s "$_pid"
    answers "$_pid" "$port"
}

# sentinel_field PORT NAME: a field of SENTINEL MASTER shop.
sentinel_field() {
    redis-cli -p "$1" --raw sentinel master shop 2>/dev/null | tr -d '\r' |
        awk -v f="$2" 'prev == f {print; exit} {prev = $0}'
}

# tls_certs DIR: a test CA and, signed by it, a server certificate for
# localhost and 127.0.0.1 and a client certificate; and a second CA that
# signed none of them. Files: ca.crt, server.{crt,key}, client.{crt,key},
# other-ca.crt.
tls_certs() {
    local d=$1 n
    mkdir -p "$d"
    for n in ca other-ca; do
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nori test $n" \
            -keyout "$d/$n.key" -out "$d/$n.crt" 2>/dev/null
    done
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$d/server.ext"
    printf 'extendedKeyUsage=clientAuth\n' > "$d/client.ext"
    for n in server client; do
        openssl req -newkey rsa:2048 -nodes -subj "/CN=nori test $n" \
            -keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null
        openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
            -CAcreateserial -days 2 -extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null
    done
    [ -s "$d/server.crt" ] && [ -s "$d/client.crt" ]
}

# tcli ARGS...: redis-cli over TLS to the test's TLS server, with the
# client certificate and TCLI_AUTH (e.g. --user U --pass P) when set.
TCLI_AUTH=()
tcli() {
    redis-cli -p "$RPORT" --tls --cacert "$CERTS/ca.crt" --cert "$CERTS/client.crt" \
        --key "$CERTS/client.key" ${TCLI_AUTH[@]+"${TCLI_AUTH[@]}"} "$@" 2>/dev/null | tr -d '\r'
}
tls_pongs() { ! alive "$1" || [ "$(tcli ping 2>/dev/null)" = PONG ]; }

# redis_tls_start [args...]: a redis-server speaking only TLS on a free
# port, with the certificates of tls_certs $CERTS; sets RPORT and RPID.
redis_tls_start() {
    local try
    for try in 1 2 3 4 5; do
        RPORT=$(free_port)
        redis-server --port 0 --tls-port "$RPORT" --bind 127.0.0.1 --save '' \
            --appendonly no --daemonize no --dir "$TMP" --logfile "$TMP/redis.$RPORT.log" \
            --tls-cert-file "$CERTS/server.crt" --tls-key-file "$CERTS/server.key" \
            --tls-ca-cert-file "$CERTS/ca.crt" "$@" &
        RPID=$!
        track "$RPID"
        poll -- tls_pongs "$RPID" && alive "$RPID" && return 0
        redis_kill "$RPID"
    done
    cat "$TMP"/redis.*.log >&2 || true
    fail "cannot start redis-server with TLS"
    exit 1
}
