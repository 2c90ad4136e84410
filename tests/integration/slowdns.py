#!/usr/bin/env python3
"""A tiny DNS server for tests: slow and hanging lookups without touching the machine's resolver.

It listens on UDP (default 127.0.0.153:53, which needs root) and answers by the queried name:
  *.slow.test   A 127.0.0.1 after `delay` seconds (AAAA and other types: NOERROR with no answer, as late)
  *.hang.test   never answered
  anything else NXDOMAIN at once
Every query is answered from its own thread, so a delayed answer never holds up another one. glibc's
getaddrinfo(AF_UNSPEC) sends an A and an AAAA query (in parallel, from one socket); both are handled, and
every query is recorded (time, name, type) so a test can tell when a lookup is in flight.

A process whose /etc/resolv.conf says `nameserver 127.0.0.153` (e.g. run inside `unshare -m` with that file
bind-mounted over /etc/resolv.conf) resolves through it. Python 3 standard library only.

    python3 slowdns.py [--listen 127.0.0.153] [--port 53] [--delay 2]   # standalone, until Ctrl-C
"""

from __future__ import annotations

import argparse
import socket
import struct
import threading
import time

QTYPES = {1: "A", 28: "AAAA", 5: "CNAME", 12: "PTR", 15: "MX", 16: "TXT", 33: "SRV", 65: "HTTPS", 255: "ANY"}
NOERROR, FORMERR, NXDOMAIN = 0, 1, 3


class Query:
    def __init__(self, t: float, name: str, qtype: int, peer: tuple):
        self.t, self.name, self.qtype, self.peer = t, name, qtype, peer

    @property
    def type_name(self) -> str:
        return QTYPES.get(self.qtype, str(self.qtype))

    def __repr__(self) -> str:
        return f"Query({self.name!r}, {self.type_name})"


def parse_question(msg: bytes) -> tuple[int, int, str, int, int, int]:
    """(id, flags, name, qtype, qclass, end of the question) of a query; ValueError if it is not one."""
    if len(msg) < 12:
        raise ValueError("short header")
    qid, flags, qdcount = struct.unpack("!HHH", msg[:6])
    if flags & 0x8000 or qdcount != 1:
        raise ValueError("not a single-question query")
    pos, labels = 12, []
    while True:
        if pos >= len(msg):
            raise ValueError("truncated name")
        n = msg[pos]
        pos += 1
        if n == 0:
            break
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[pos:pos + n].decode("ascii", "replace"))
        pos += n
    if pos + 4 > len(msg):
        raise ValueError("truncated question")
    qtype, qclass = struct.unpack("!HH", msg[pos:pos + 4])
    return qid, flags, ".".join(labels).lower(), qtype, qclass, pos + 4


def build_answer(msg: bytes, rcode: int, a_records: list[str]) -> bytes:
    """The response to query `msg`: its question copied, `a_records` as A answers (TTL 60)."""
    qid, flags, _, _, _, end = parse_question(msg)
    rflags = 0x8000 | (flags & 0x7800) | (flags & 0x0100) | 0x0080 | 0x0400 | rcode  # QR, opcode, RD, RA, AA
    out = bytearray(struct.pack("!HHHHHH", qid, rflags, 1, len(a_records), 0, 0))
    out += msg[12:end]
    for a in a_records:
        out += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(a)
    return bytes(out)


class SlowDNS:
    """The server, run on a thread of the test process: start(), then stop()."""

    def __init__(self, host: str = "127.0.0.153", port: int = 53, delay: float = 2.0,
                 slow_suffix: str = ".slow.test", hang_suffix: str = ".hang.test", answer: str = "127.0.0.1"):
        self.host, self.port, self.delay = host, port, delay
        self.slow_suffix, self.hang_suffix, self.answer = slow_suffix, hang_suffix, answer
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._queries: list[Query] = []

    def start(self) -> "SlowDNS":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((self.host, self.port))  # fails loudly if the address is taken or the port needs root
        s.settimeout(0.2)
        self._sock = s
        self._thread = threading.Thread(target=self._serve, name="slowdns", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> "SlowDNS":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # queries -----------------------------------------------------------------------------------------

    def queries(self, suffix: str = "") -> list[Query]:
        with self._lock:
            return [q for q in self._queries if q.name.endswith(suffix)]

    def wait_for_query(self, suffix: str, timeout: float) -> Query:
        """The first query for a name ending in `suffix`, waiting up to `timeout` s; AssertionError after."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.queries(suffix)
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                raise AssertionError(f"no DNS query for *{suffix} within {timeout:.1f}s; saw {self.queries()}")
            time.sleep(0.05)

    # serving -----------------------------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                msg, peer = self._sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(msg, peer), daemon=True).start()

    def _handle(self, msg: bytes, peer: tuple) -> None:
        try:
            _, _, name, qtype, _, _ = parse_question(msg)
        except ValueError:
            return  # not a query we understand: nothing to answer
        with self._lock:
            self._queries.append(Query(time.monotonic(), name, qtype, peer))
        dotted = "." + name
        if dotted.endswith(self.hang_suffix):
            return
        if dotted.endswith(self.slow_suffix):
            if self._stop.wait(self.delay):
                return
            reply = build_answer(msg, NOERROR, [self.answer] if qtype == 1 else [])
        else:
            reply = build_answer(msg, NXDOMAIN, [])
        try:
            assert self._sock is not None
            self._sock.sendto(reply, peer)
        except OSError:
            pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", default="127.0.0.153")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--delay", type=float, default=2.0, help="seconds before a *.slow.test answer")
    args = ap.parse_args()
    server = SlowDNS(args.listen, args.port, args.delay).start()
    print(f"listening {args.listen}:{args.port}", flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.2)
            qs = server.queries()
            for q in qs[seen:]:
                print(f"{q.t:.3f} {q.peer[0]}:{q.peer[1]} {q.type_name} {q.name}", flush=True)
            seen = len(qs)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
