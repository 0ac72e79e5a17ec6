"""Hostile loads of issue 15 against the running stack's real ingest, read-api and FerretDB,
with each process's resident memory sampled every 100 ms and compared with its Kubernetes
manifest's limit. Standard library only, so the client is nobody's library: raw HTTP/1.1 and a
hand-made WebSocket handshake and frames (RFC 6455).

    python3 hostile.py STATE_DIR SECONDS_PER_LOAD
"""
import base64, http.client, json, os, random, socket, struct, sys, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from stack_procs import processes, stack_file, status_kib  # noqa: E402

state, seconds = sys.argv[1], float(sys.argv[2])
stack = stack_file(state)
ports = stack["ports"]
LIMITS_MIB = {"ingest": 256, "read-api": 256, "ferretdb": 256}  # deploy/base, deploy/infra/mongodb


procs = {name: pid for name, pid in processes(stack).items() if name in LIMITS_MIB}
missing = set(LIMITS_MIB) - set(procs)
if missing:
    sys.exit(f"not running in the stack of {state}: {sorted(missing)}")


class Sampler:
    def __init__(self):
        self.peak = {n: 0 for n in procs}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            for n, pid in procs.items():
                self.peak[n] = max(self.peak[n], status_kib(pid, "VmRSS"))
            time.sleep(0.1)

    def done(self):
        self.stop.set()
        self.thread.join()
        return self.peak


def hammer(threads, one):
    """`threads` threads calling one() until the time is up; the statuses they saw."""
    seen, lock, deadline = {}, threading.Lock(), time.time() + seconds

    def loop():
        while time.time() < deadline:
            try:
                status = one()
            except OSError as e:
                status = type(e).__name__
            with lock:
                seen[status] = seen.get(status, 0) + 1

    ts = [threading.Thread(target=loop) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return seen


def post_ingest(body):
    def one():
        c = http.client.HTTPConnection("127.0.0.1", ports["ingest"], timeout=30)
        c.request("POST", "/input", body, {"content-type": "application/json"})
        status = c.getresponse().status
        c.close()
        return status
    return one


def get_read_api(path):
    def one():
        c = http.client.HTTPConnection("127.0.0.1", ports["read-api"], timeout=30)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    return one


def ws_open(path):
    s = socket.create_connection(("127.0.0.1", ports["read-api"]), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
               f"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head.split(b" ", 2)[1].decode() if head else "closed"


def ws_frame(payload):
    """A masked binary frame, as a client must send."""
    mask = os.urandom(4)
    n = len(payload)
    header = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else
                              bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                              bytes([0x80 | 127]) + struct.pack(">Q", n))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def sockets(count, frame_bytes, every):
    """`count` sockets on /api/live/ws, each sending a frame of `frame_bytes` every `every` s."""
    opened, statuses = [], {}
    for _ in range(count):
        try:
            s, status = ws_open("/api/live/ws")
        except OSError as e:
            status, s = type(e).__name__, None
        statuses[status] = statuses.get(status, 0) + 1
        if status == "101":
            s.setblocking(False)
            opened.append(s)
    frame = ws_frame(os.urandom(frame_bytes))
    deadline, sent, closed = time.time() + seconds, 0, 0
    while time.time() < deadline and opened:
        for s in list(opened):
            try:
                try:
                    while s.recv(65536):
                        pass  # what the server pushes; read so its buffers drain
                except BlockingIOError:
                    pass
                s.sendall(frame)
                sent += 1
            except (BlockingIOError, OSError):
                opened.remove(s)
                closed += 1
                s.close()
        time.sleep(every)
    for s in opened:
        s.close()
    return {"handshakes": statuses, "frames sent": sent, "closed by the server": closed}


zeros = b"[" + b"0," * (512 * 1024 - 1) + b"0]"  # 1 MiB of [0,0,...]
pairs = json.dumps([{"team1": f"T{random.random()}", "team2": f"U{random.random()}", "score": "1-0",
                     "phase": 1} for _ in range(1000)]).encode()
loads = [
    ("ingest: 64 concurrent 1 MiB [0,0,...] bodies", lambda: hammer(64, post_ingest(zeros))),
    ("ingest: 64 concurrent arrays of 1,000 random pairs (H1)", lambda: hammer(64, post_ingest(pairs))),
    ("read-api: 1,000 WebSockets, a 4 KiB frame each every 100 ms", lambda: sockets(1000, 4096, 0.1)),
    ("read-api: 50 WebSockets sending 1 MiB frames", lambda: sockets(50, 1024 * 1024, 0.1)),
    ("read-api + FerretDB: 50 concurrent /api/logs?team1=zzz", lambda: hammer(50, get_read_api("/api/logs?team1=zzz"))),
    ("read-api + FerretDB: 50 concurrent first pages of /api/logs", lambda: hammer(50, get_read_api("/api/logs"))),
]
rows = []
idle = {n: status_kib(pid, "VmRSS") for n, pid in procs.items()}
print("idle RSS: " + ", ".join(f"{n} {idle[n] / 1024:.0f} MiB" for n in procs), flush=True)
for name, load in loads:
    sampler = Sampler()
    started = time.time()
    outcome = load()
    peak = sampler.done()
    print(f"{name} ({time.time() - started:.0f} s): {outcome}", flush=True)
    rows.append((name, peak))
    time.sleep(2)
print()
print("| load | " + " | ".join(f"{n} peak RSS MiB (limit {LIMITS_MIB[n]})" for n in procs) + " |")
print("|---|" + "---|" * len(procs))
for name, peak in rows:
    cells = []
    for n in procs:
        mib = peak[n] / 1024
        cells.append(f"{mib:.0f}" + ("" if mib < LIMITS_MIB[n] else " OVER"))
    print(f"| {name} | " + " | ".join(cells) + " |")
print("| whole run, VmHWM (the process's own peak since start) | " +
      " | ".join(f"{status_kib(pid, 'VmHWM') / 1024:.0f}" for pid in procs.values()) + " |")
