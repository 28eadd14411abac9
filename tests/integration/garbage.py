#!/usr/bin/env python3
"""Throws bad input at baton ports: frames of random bytes, frames whose length header
is over any limit, and connections left holding half a frame.

  garbage.py [--random N] [--oversize N] [--per-conn K] [--hold H] [--hold-ms MS]
             [--wait-close] [--seed S] HOST:PORT...

Every target gets N random-byte frames (a length in 1..2048, then that many random
bytes; a fifth of them are raw random bytes with no sane header) and N oversize
frames (headers 0xFFFFFFFF, 0x80000000, 2^24+1 ... followed by a little data),
K frames per connection. A server may close a connection at the first bad frame,
after which the rest of that batch goes nowhere, so --per-conn 1 makes the server
parse every frame. --wait-close sends each batch, half-closes and waits for the
server to close before the next connection (closed_by_server counts those it did), so
at most one garbage connection is open at a time. H connections per target are opened first and hold a partial
frame until the end (and MS milliseconds more). Prints what was sent; exits 1 if a
target could not be reached or stopped accepting connections (3 failures in a row).
"""
import argparse
import os
import random
import socket
import struct
import sys
import time

OVERSIZE = [0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, (1 << 24) + 1, (4 << 20) + 1, 0x10000000]


def random_frame(rng):
    if rng.random() < 0.2:
        return os.urandom(rng.randint(1, 256))
    n = rng.randint(1, 2048)
    return struct.pack(">I", n) + os.urandom(n)


def oversize_frame(rng):
    return struct.pack(">I", rng.choice(OVERSIZE)) + os.urandom(rng.randint(0, 64))


def connect(addr):
    s = socket.create_connection(addr, timeout=5)
    # Close with RST: thousands of connections leave no TIME_WAIT behind.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return s


def blast(addr, frames, per_conn, stats, wait_close):
    failed_in_a_row = 0
    for i in range(0, len(frames), per_conn):
        try:
            s = connect(addr)
            failed_in_a_row = 0
        except OSError as e:
            stats["connect_errors"] += 1
            stats["last_error"] = "connect: %s" % e
            failed_in_a_row += 1
            if failed_in_a_row == 3:
                stats["gave_up"] = True
                return
            continue
        try:
            s.sendall(b"".join(frames[i:i + per_conn]))
            stats["frames_sent"] += len(frames[i:i + per_conn])
            if wait_close:
                stats["closed_by_server"] += await_close(s)
        except OSError:
            stats["closed_by_server"] += 1
        finally:
            s.close()
        stats["connections"] += 1


def await_close(s):
    """Half-closes s and waits (2 s at most) for the server to close its side: 1 if it
    did, 0 if it kept the connection open."""
    s.shutdown(socket.SHUT_WR)
    s.settimeout(2)
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        return 0
    except OSError:
        pass
    return 1


def hold(addr, n):
    held = []
    for _ in range(n):
        try:
            s = connect(addr)
            s.sendall(struct.pack(">I", 1000) + b"\x0a\x02")  # announces 1000, sends 2
            held.append(s)
        except OSError:
            break
    return held


def parse_addr(s):
    host, _, port = s.rpartition(":")
    return (host.strip("[]"), int(port))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--random", type=int, default=1000)
    ap.add_argument("--oversize", type=int, default=100)
    ap.add_argument("--per-conn", type=int, default=1)
    ap.add_argument("--hold", type=int, default=50)
    ap.add_argument("--hold-ms", type=int, default=0)
    ap.add_argument("--wait-close", action="store_true")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int(time.time())
    rng = random.Random(seed)
    reached = 0
    for t in a.targets:
        addr = parse_addr(t)
        stats = dict(connections=0, frames_sent=0, closed_by_server=0, connect_errors=0,
                     last_error="", gave_up=False)
        start = time.time()
        held = hold(addr, a.hold)
        blast(addr, [random_frame(rng) for _ in range(a.random)], a.per_conn, stats,
              a.wait_close)
        if not stats["gave_up"]:
            blast(addr, [oversize_frame(rng) for _ in range(a.oversize)], a.per_conn, stats,
              a.wait_close)
        time.sleep(a.hold_ms / 1000.0)
        for s in held:
            s.close()
        if stats["gave_up"]:
            print("garbage: %s stopped accepting connections after %d" %
                  (t, stats["connections"]), file=sys.stderr)
        elif a.random + a.oversize == 0 or stats["connections"] > 0:
            reached += 1
        print("garbage: %s seed=%d held=%d connections=%d frames_sent=%d closed_by_server=%d "
              "connect_errors=%d %.1fs %s" % (t, seed, len(held), stats["connections"],
                                             stats["frames_sent"], stats["closed_by_server"],
                                             stats["connect_errors"], time.time() - start,
                                             stats["last_error"]))
    return 0 if reached == len(a.targets) else 1


if __name__ == "__main__":
    sys.exit(main())
