#!/usr/bin/env python3
"""The host's side of tools/bench-vsock: throughput each way and round trips
to the guest's servers (disk-test vsock-bench), over kestrel's hybrid vsock
(an AF_UNIX socket and Firecracker's CONNECT line) or over AF_VSOCK (QEMU's
vhost-vsock). Prints BENCH_<name>=<value> lines.

usage: vsock_client.py unix:PATH|vsock:CID MEGABYTES ROUNDTRIPS
"""
import socket
import sys
import time


def connect(target, port):
    kind, where = target.split(":", 1)
    if kind == "vsock":
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        s.connect((int(where), port))
        return s
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(where)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            raise SystemExit("vsock_client: no OK line for port %d" % port)
        line += b
    if not line.startswith(b"OK "):
        raise SystemExit("vsock_client: %r for port %d" % (line, port))
    return s


def send(target, nbytes):
    """Host → guest: the guest counts what it got (wc -c) and answers once it has all of it."""
    s = connect(target, 5001)
    chunk = b"\0" * (1 << 20)
    t0 = time.monotonic()
    left = nbytes
    while left:
        n = s.send(chunk[:min(left, len(chunk))])
        left -= n
    s.shutdown(socket.SHUT_WR)
    answer = b""
    while not answer.endswith(b"\n"):  # the count's line; then we close (see recv)
        b = s.recv(64)
        if not b:
            break
        answer += b
    t = time.monotonic() - t0
    if int(answer.split()[0]) != nbytes:
        raise SystemExit("vsock_client: the guest got %r of %d bytes" % (answer, nbytes))
    return nbytes / t / 1e6


def recv(target, nbytes):
    """Guest → host: the guest sends nbytes (head -c) and waits for us to close.

    Reading to EOF instead lost runs over vhost-vsock: the guest's close
    reached the host as a reset before the last bytes were read
    (ECONNRESET), so the host closes first, once it has every byte.
    """
    s = connect(target, 5002)
    t0 = time.monotonic()
    got = 0
    while got < nbytes:
        b = s.recv(1 << 20)
        if not b:
            break
        got += len(b)
    t = time.monotonic() - t0
    if got != nbytes:
        raise SystemExit("vsock_client: got %d of %d bytes from the guest" % (got, nbytes))
    return nbytes / t / 1e6


def roundtrips(target, n):
    """1-byte ping-pong through the guest's echo server: median µs per round trip."""
    s = connect(target, 5000)
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise SystemExit("vsock_client: the echo went wrong")
        times.append(time.monotonic() - t0)
    times.sort()
    return times[len(times) // 2] * 1e6


def main():
    target, mb, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print("BENCH_h2g=%.1f" % send(target, mb << 20), flush=True)
    print("BENCH_g2h=%.1f" % recv(target, mb << 20), flush=True)
    print("BENCH_rtt=%.0f" % roundtrips(target, n), flush=True)
    connect(target, 5999).close()  # the guest powers off


if __name__ == "__main__":
    main()
