# fcgi_client.py -- a FastCGI client that can misbehave, for peers.sh
# and records.sh (cgi-fcgi cannot reach an IPv6 address, trickle its
# records or lie about a length). Not a suite: run with python3.
#
#   fcgi_client.py get ADDR [QUERY]   one GET; prints the first line of
#                                     the answer, CLOSED (closed without
#                                     one) or TIMEOUT
#   fcgi_client.py trickle ADDR       BEGIN_REQUEST, then its params ten
#                                     bytes a second; prints CLOSED once
#                                     nori drops it, OPEN if it never does
#   fcgi_client.py absurd ADDR [end]  params declaring a 0x40000000-byte
#                                     name (end: and the params' end)
#
# ADDR is unix:PATH or HOST:PORT (HOST may be an IPv6 address).
import socket
import struct
import sys
import time

WAIT = 90       # seconds: generous, and only ever reached on failure


def connect(addr):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(addr[5:])
        return s
    host, port = addr.rsplit(":", 1)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.connect((host, int(port)))
    return s


def record(rtype, content, rid=1):
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), 0, 0) + content


def pair(name, value):
    out = b""
    for n in (len(name), len(value)):
        out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return out + name + value


def begin():
    return record(1, struct.pack(">HB5x", 1, 0))


def params(query):
    env = {"SCRIPT_NAME": "/shop", "REQUEST_METHOD": "GET",
           "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1"}
    return b"".join(pair(k.encode(), v.encode()) for k, v in env.items())


def answer(s):
    """The first line of the answer's stdout, or CLOSED / TIMEOUT."""
    s.settimeout(WAIT)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        return "TIMEOUT"
    except ConnectionResetError:
        pass
    out, off = b"", 0
    while off + 8 <= len(data):
        _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", data[off:off + 8])
        if rtype == 6:
            out += data[off + 8:off + 8 + clen]
        off += 8 + clen + plen
    return out.split(b"\r\n")[0].decode() if out else "CLOSED"


def main():
    cmd, addr = sys.argv[1], sys.argv[2]
    s = connect(addr)
    if cmd == "get":
        query = sys.argv[3] if len(sys.argv) > 3 else "pg=Item&id=26"
        p = params(query)
        recs = b"".join(record(4, p[i:i + 32768]) for i in range(0, len(p), 32768))
        try:
            s.sendall(begin() + recs + record(4, b"") + record(5, b""))
        except (BrokenPipeError, ConnectionResetError):
            pass
        print(answer(s))
    elif cmd == "trickle":
        # One long PARAMS record whose one pair declares a value of 50,000
        # bytes, sent at ten a second: a reader without a deadline waits
        # for it far longer than WAIT, and sees nothing malformed.
        s.sendall(begin() + struct.pack(">BBHHBB", 1, 4, 1, 65535, 0, 0) +
                  struct.pack(">BI", 11, 50000 | 0x80000000) + b"SCRIPT_NAME")
        s.settimeout(0.1)
        end = time.time() + 2 * WAIT    # outlasts a GET's wait, begun later
        while time.time() < end:
            try:
                s.send(b"a")
                if s.recv(1) == b"":
                    print("CLOSED")
                    return
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                print("CLOSED")
                return
        print("OPEN")
    elif cmd == "absurd":
        p = struct.pack(">IB", 0x40000000 | 0x80000000, 1) + b"NAME"
        msg = begin() + record(4, p)
        if len(sys.argv) > 3 and sys.argv[3] == "end":
            msg += record(4, b"")
        s.sendall(msg)
        print(answer(s))


main()
