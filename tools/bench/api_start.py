#!/usr/bin/env python3
"""One API start-up measurement, for tools/bench-api. Starts MONITOR
(kestrel with --api-sock, or QEMU microvm with -S and a QMP socket), and
prints one line:  sock_ms sock_cpu_ms start_to_init_ms status
sock_ms: process start to its socket accepting a connection; sock_cpu_ms:
CPU time the monitor had used by then (all its threads, schedstat);
start_to_init_ms: from sending InstanceStart (QMP "cont" for QEMU) to the
guest's init marker on its console. A failure prints -1 fields.
Usage: api_start.py kestrel|qemu KESTREL_BIN KERNEL INITRD CMDLINE MARKER WORKDIR"""
import json
import os
import select
import socket
import subprocess
import sys
import time

mon, kestrel, kernel, initrd, cmdline, marker, work = sys.argv[1:8]
sock = os.path.join(work, mon + ".sock")
if os.path.exists(sock):
    os.unlink(sock)


def cpu_ms(pid):
    total = 0
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
    except OSError:
        return -1
    return total / 1e6


if mon == "kestrel":
    cmd = [kestrel, "--api-sock", sock, "--console", "stdio"]
else:
    cmd = ["qemu-system-x86_64", "-M", "microvm,acpi=on", "-enable-kvm", "-cpu", "host", "-m", "512M",
           "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
           "-kernel", kernel, "-initrd", initrd, "-append", cmdline, "-S",
           "-qmp", f"unix:{sock},server=on,wait=off"]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
s = None
deadline = t0 + 120
while time.monotonic() < deadline:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        break
    except OSError:
        s = None
        time.sleep(0.0005)
if s is None:
    p.kill()
    print("-1 -1 -1 1")
    sys.exit(0)
t_sock = time.monotonic()
cpu = cpu_ms(p.pid)
s.settimeout(60)


def http(method, path, body):
    data = json.dumps(body).encode()
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(data)}\r\n\r\n".encode()
              + data)
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(4096)
    return int(got.split()[1])


qmp_buf = b""


def qmp(cmd):
    """Sends a command and returns its answer line (events that come first are skipped)."""
    global qmp_buf
    s.sendall(json.dumps({"execute": cmd}).encode() + b"\n")
    while True:
        while b"\n" not in qmp_buf:
            qmp_buf += s.recv(4096)
        line, qmp_buf = qmp_buf.split(b"\n", 1)
        if b'"return"' in line or b'"error"' in line:
            return line


if mon == "kestrel":
    ok = http("PUT", "/boot-source", {"kernel_image_path": kernel, "initrd_path": initrd,
                                      "boot_args": cmdline}) == 204
    ok = ok and http("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 512}) == 204
    t_start = time.monotonic()
    ok = ok and http("PUT", "/actions", {"action_type": "InstanceStart"}) == 204
else:
    while b"\n" not in qmp_buf:
        qmp_buf += s.recv(4096)  # the greeting
    qmp_buf = qmp_buf.split(b"\n", 1)[1]
    qmp("qmp_capabilities")
    t_start = time.monotonic()
    ok = b"return" in qmp("cont")
t_init = -1
buf = b""
while ok and time.monotonic() < deadline:
    r, _, _ = select.select([p.stdout], [], [], 1)
    if not r:
        continue
    chunk = os.read(p.stdout.fileno(), 65536)
    if not chunk:
        break
    buf += chunk
    if (b"\n" + marker.encode()) in (b"\n" + buf):
        t_init = time.monotonic()
        break
try:
    p.wait(timeout=120)
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
if t_init < 0:
    print("-1 -1 -1", p.returncode if p.returncode is not None else 1)
else:
    print(f"{(t_sock - t0) * 1e3:.2f} {cpu:.2f} {(t_init - t_start) * 1e3:.2f} {p.returncode}")
