"""WebSocket server on loopback: latency and capacity (writes bench/results/ws.md).

    python bench/bench_ws.py [--quick]

* Latency: from the moment a 20 ms audio block (both speakers) is sent to the moment the metrics
  it made final arrive (the server reports which audio it had consumed, ``received_s``, so each
  message is matched to the exact block that triggered it). ``metrics_interval_ms = 0``: every
  update is sent at once. 1 client, then 20 concurrent clients, all streaming in real time.
* Capacity: N concurrent two-speaker sessions streaming in real time (20 ms blocks, default
  100 ms metrics with frames, so the server coalesces each 100 ms of audio into one push); a
  step falls behind when the latency p99 exceeds 100 ms. The server runs with one worker
  process per core; the clients run in this process on the same cores (loopback), so their CPU
  is reported too.

Everything binds to 127.0.0.1; every step is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for _shared
from _shared import DEMO, RESULTS  # noqa: E402

OUT = RESULTS / "ws.md"
SR = 16000
BLOCK = 320  # 20 ms
#: Seconds of each session streamed at full speed before the measured real-time part.
PREROLL_S = 10.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clock_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime


def _machine_busy_s() -> float:
    """CPU seconds spent by everything on the machine (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except OSError:
                pass
    return out


class Server:
    def __init__(self, workers: int, extra=()):
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "prosync.cli", "serve", "--host", "127.0.0.1", "--port",
             str(self.port), "--workers", str(workers), "--queue", "256", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline().decode()
            if "serving on" in line:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("server failed to start")
        self.url = f"ws://127.0.0.1:{self.port}"
        self.pids = _children(self.proc.pid) or [self.proc.pid]

    def cpu_s(self) -> float:
        tot = 0
        for p in self.pids:
            try:
                tot += _clock_ticks(p)
            except OSError:
                pass
        return tot / os.sysconf("SC_CLK_TCK")

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)


def _audio():
    import soundfile as sf

    x, sr = sf.read(DEMO, dtype="int16", always_2d=True)
    assert sr == SR
    return x[:, 0].astype("<i2"), x[:, 1].astype("<i2")


async def _client(url, u, a, offset_s, dur_s, warm_s, shared, lat, interval_ms, stats, preroll_s,
                  cid=0):
    from websockets.asyncio.client import connect

    async with connect(url, compression=None, max_size=None, open_timeout=60) as ws:
        await ws.send(json.dumps({"type": "start", "sample_rate": SR,
                                  "metrics_interval_ms": interval_ms}))
        json.loads(await ws.recv())
        sent: dict[int, float] = {}
        caught_up = asyncio.Event()
        pre = int(preroll_s * SR)
        base = int(offset_s * SR)

        async def reader():
            async for text in ws:
                m = json.loads(text)
                if m["type"] == "metrics":
                    t = time.perf_counter()
                    j = int(round(m["received_s"][1] * SR))
                    if j >= pre:
                        caught_up.set()
                    ts = sent.pop(j, None)
                    # counted after warm_s, until 1 s before the end: the sessions' stops
                    # (close + summary, ~5 ms each) all fall in the last 0.5 s of a step
                    if ts is not None and warm_s <= ts - shared["t_start"] < dur_s - 1.0:
                        lat.append((t - ts, t - shared["t_start"], cid))
                    stats["dropped"] += m["dropped"]
                elif m["type"] == "error":
                    stats["errors"] += 1

        rt = asyncio.create_task(reader())
        # pre-roll: the session's first seconds as fast as the server takes them, so that the
        # measured part runs in the steady state (synchrony windows start after 10 s)
        for i in range(0, pre, 1600):
            await ws.send(b"\x00" + u[base + i:base + min(pre, i + 1600)].tobytes())
            await ws.send(b"\x01" + a[base + i:base + min(pre, i + 1600)].tobytes())
        if pre:
            await caught_up.wait()
        shared["ready"] += 1
        if shared["ready"] == shared["n"]:
            shared["on_go"]()
            shared["t_start"] = time.perf_counter() + 0.5
            shared["go"].set()
        await shared["go"].wait()
        n_blocks = int(dur_s * SR / BLOCK)
        t0 = shared["t_start"] + offset_s % 0.5  # sessions at random phases, as calls are
        for k in range(n_blocks):
            due = t0 + k * BLOCK / SR
            d = due - time.perf_counter()
            if d > 0:
                await asyncio.sleep(d)
            else:
                stats["late_sends"] += 1
            i = base + pre + k * BLOCK
            await ws.send(b"\x00" + u[i:i + BLOCK].tobytes())
            await ws.send(b"\x01" + a[i:i + BLOCK].tobytes())
            sent[pre + (k + 1) * BLOCK] = time.perf_counter()
        await ws.send('{"type": "stop"}')
        await rt


async def _run_clients(url, n, dur_s, warm_s, interval_ms, preroll_s, on_go):
    u, a = _audio()
    lat: list[float] = []
    stats = {"dropped": 0, "errors": 0, "late_sends": 0}
    shared = {"n": n, "ready": 0, "go": asyncio.Event(), "t_start": float("inf"), "on_go": on_go}
    rng = np.random.default_rng(0)
    span = len(u) / SR - preroll_s - dur_s - 1
    offs = rng.uniform(0, span, n)  # each session streams a different part of the dialogue
    await asyncio.gather(*[_client(url, u, a, float(o), dur_s, warm_s, shared, lat, interval_ms,
                                   stats, preroll_s, cid) for cid, o in enumerate(offs)])
    stats["trace"] = np.array(lat).reshape(-1, 3)
    return stats["trace"][:, 0] * 1000, stats, shared["t_start"]


def run_step(workers, n, dur_s, warm_s, interval_ms, preroll_s=None):
    """One step: n sessions (after a pre-roll) streaming dur_s of audio in real time."""
    preroll_s = PREROLL_S if preroll_s is None else preroll_s
    srv = Server(workers)
    snap = {}

    def on_go():  # CPU counted over the real-time part only
        snap.update(c0=srv.cpu_s(), cc0=time.process_time(), m0=_machine_busy_s(),
                    t0=time.perf_counter())

    try:
        lat, stats, _ = asyncio.run(_run_clients(srv.url, n, dur_s, warm_s, interval_ms,
                                                 preroll_s, on_go))
        wall = time.perf_counter() - snap["t0"]
        cpu = (srv.cpu_s() - snap["c0"]) / wall
        ccpu = (time.process_time() - snap["cc0"]) / wall
        other = max(0.0, (_machine_busy_s() - snap["m0"]) / wall - cpu - ccpu)
    finally:
        srv.stop()
    return {"n": n, "workers": workers, "interval_ms": interval_ms, "samples": int(lat.size),
            "p50": float(np.percentile(lat, 50)) if lat.size else float("nan"),
            "p99": float(np.percentile(lat, 99)) if lat.size else float("nan"),
            "max": float(lat.max()) if lat.size else float("nan"),
            "server_cpu": cpu, "client_cpu": ccpu, "other_cpu": other, **stats}


def session_cost() -> dict:
    """CPU per real-time session without the network: AgentSession fed after a 10.5 s pre-roll
    (30 s measured), metrics encoded every 100 ms as the server does; pushes of 20 ms blocks
    (as they arrive) and of 100 ms blocks (as the server coalesces them by default)."""
    from prosync.agent import AgentSession
    from prosync.streams.websocket import metrics_body, warm_up

    warm_up()
    u, a = _audio()
    out = {}
    for label, blk in (("20ms", BLOCK), ("100ms", 5 * BLOCK)):
        s = AgentSession(SR, pad_agent=False)
        pre = int(PREROLL_S * SR)
        s.push_user(u[:pre])
        s.push_agent(a[:pre])
        pend, push_s, enc_s = [], 0.0, 0.0
        n = 30 * SR
        for k in range(pre, pre + n, blk):
            t0 = time.process_time()
            s.push_user(u[k:k + blk])
            pend.append(s.push_agent(a[k:k + blk]))
            t1 = time.process_time()
            push_s += t1 - t0
            if (k - pre + blk) % (5 * BLOCK) == 0:
                json.dumps(metrics_body(pend), allow_nan=False)
                pend = []
                enc_s += time.process_time() - t1
        out[f"push_ms_per_s_{label}"] = push_s / 30 * 1000
        out[f"encode_ms_per_s_{label}"] = enc_s / 30 * 1000
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="shorter steps")
    p.add_argument("--max-n", type=int, default=200)
    args = p.parse_args(argv)
    dur, warm = (6.0, 2.0) if args.quick else (12.0, 3.0)
    load0 = os.getloadavg()
    rows = []

    def show(r, label):
        print(f"{label:28s} n={r['n']:3d} workers={r['workers']} p50 {r['p50']:6.1f} ms  "
              f"p99 {r['p99']:7.1f} ms  max {r['max']:7.1f} ms  server CPU {r['server_cpu']:.2f} "
              f"cores  client CPU {r['client_cpu']:.2f}  others {r['other_cpu']:.2f}  dropped "
              f"{r['dropped']} late sends "
              f"{r['late_sends']}", flush=True)

    cost = session_cost()
    print("session cost without the network (CPU per real-time session): 20 ms pushes "
          f"{cost['push_ms_per_s_20ms']:.1f} ms/s, 100 ms pushes {cost['push_ms_per_s_100ms']:.1f} "
          f"ms/s, encode {cost['encode_ms_per_s_100ms']:.1f} ms/s", flush=True)
    lat1 = run_step(1, 1, dur, warm, 0)
    show(lat1, "latency, 1 client")
    lat20 = run_step(2, 20, dur, warm, 0)
    show(lat20, "latency, 20 clients")
    for n in (20, 40, 60, 80, 100, 120, 140, 160, 180, 200):
        if n > args.max_n:
            break
        r = run_step(2, n, dur, warm, 100)
        show(r, "capacity")
        rows.append(r)
        if not r["p99"] < 100:
            break
    load1 = os.getloadavg()
    ok = [r["n"] for r in rows if r["p99"] < 100]
    held = [r for r in rows if r["p99"] < 100] or rows  # a starved step under-counts the CPU
    per_session = np.median([r["server_cpu"] / r["n"] for r in held])
    lines = [
        "## WebSocket server on loopback (`python bench/bench_ws.py`)",
        "",
        f"Machine: {os.cpu_count()} cores, shared with the clients (same process tree) and with "
        f"whatever else ran: load average {load0[0]:.2f} before, {load1[0]:.2f} after. "
        f"Audio: the demo dialogue, 20 ms blocks per speaker, real time; steps of {dur:.0f} s, "
        f"the first {warm:.0f} s and the last 1 s (where the bench stops all sessions within 0.5 s; "
        "a stop costs about 5 ms of the loop) not counted. Each session first streams "
        f"{PREROLL_S} s at full speed (not counted), so that the measured part runs with "
        "synchrony windows (a few ms of compute every 0.5 s per session).",
        "",
        "Latency: block sent → the metrics it made final received (`metrics_interval_ms` 0).",
        "",
        "| clients | server workers | p50 ms | p99 ms | max ms | samples | server CPU (cores) | "
        "other processes' CPU (cores) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in (lat1, lat20):
        lines.append(f"| {r['n']} | {r['workers']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | "
                     f"{r['samples']} | {r['server_cpu']:.2f} | {r['other_cpu']:.2f} |")
    lines += [
        "",
        "Capacity: concurrent real-time sessions (default 100 ms metrics with frames); a step falls "
        "behind when p99 latency exceeds 100 ms.",
        "",
        "| sessions | p50 ms | p99 ms | max ms | server CPU (cores) | client CPU (cores) | "
        "other processes' CPU (cores) | dropped | late client sends |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['n']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | "
                     f"{r['server_cpu']:.2f} | {r['client_cpu']:.2f} | {r['other_cpu']:.2f} | "
                     f"{r['dropped']} | {r['late_sends']} |")
    lines += [
        "",
        f"Held in real time: **{max(ok) if ok else 0} sessions** (largest step with p99 < 100 ms, "
        "on this shared machine"
        + ("; every step tried held" if len(ok) == len(rows) else "") + "). "
        f"Server CPU per real-time session over the socket: {per_session * 1000:.1f} ms/s, i.e. at "
        f"most {2 / per_session:.0f} sessions on 2 dedicated cores with no client load.",
        "",
        "Without the network (`session_cost()`: AgentSession after a "
        f"{PREROLL_S} s pre-roll, metrics encoded every 100 ms): pushing each 20 ms block as it "
        f"arrives costs {cost['push_ms_per_s_20ms']:.1f} ms/s; the server's default (audio "
        "coalesced up to the next 100 ms metrics message, same results at the same moment) "
        f"{cost['push_ms_per_s_100ms']:.1f} ms/s; encoding {cost['encode_ms_per_s_100ms']:.1f} "
        "ms/s, i.e. at most "
        f"{2000 / (cost['push_ms_per_s_100ms'] + cost['encode_ms_per_s_100ms']):.0f} sessions "
        "on 2 cores for the engine alone.",
        "",
    ]
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
