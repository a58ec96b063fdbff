"""WebSocket load: many clients streaming in real time, with random disconnects and malformed
messages mixed in, against one ``prosync serve`` process on 127.0.0.1.

    python bench/reliability/load_ws.py [--clients 50] [--minutes 10] [--seed 0] [--workers 2]
                                        [--interval-ms 100]

* The server runs as a user on this machine would run it: one worker process per core
  (``--workers``), sessions with the default 100 ms metrics interval (``--interval-ms 0``: a
  message per update).
* Every client streams the demo dialogue (both speakers, 20 ms blocks, real time) and measures
  latency: from sending a block to receiving the metrics message it completed (``received_s``
  tells which block that was).
* A third of the clients are unruly: they also send malformed messages (bad JSON, unknown types,
  odd byte counts, bad speaker bytes) and each must get exactly one ``error`` back; every client
  disconnects abruptly at random moments (on average every ``--reconnect-s``) and reconnects.
* The server's RSS (all its processes) is sampled every 5 s (slope in MB/hour), its stderr is
  checked for tracebacks, and every ``error`` with code ``internal`` counts as a server error.
* Latency seen by another user: a probe client (well-behaved, in a process of its own, so that
  the load generator's busy event loop does not delay its clocks) streams first alone (the
  baseline, capped at 60 s), then as one of the clients during the load; its p50/p99 under load
  are reported against its baseline. The load process's own well-behaved clients' p50/p99 are
  reported too (they include that process's scheduling delays).
* Unauthenticated connections: the server runs with ``--token``; connections without it or with
  a wrong one must be refused (HTTP 401).

Results: ``bench/results/load_ws.json`` and the load row of ``bench/reliability/RELIABILITY.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

if __package__ in (None, ""):  # run as a file: put the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._shared import DEMO, RESULTS, ROOT  # noqa: E402

TOKEN = "load-test-token"
BLOCK_S = 0.02
MALFORMED = [("text", "not json"), ("text", '{"type": "nope"}'), ("text", "[1, 2]"),
             ("binary", b"\x00\x01\x02\x03"), ("binary", b"\x07\x00\x00"), ("binary", b""),
             ("text", '{"type": "start", "sample_rate": 16000}')]   # already started


def rss_mb(pid) -> float:
    """Resident memory of a process and its children (the server's worker processes)."""
    from bench.bench_ws import _children

    total = 0.0
    for q in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{q}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
        except OSError:
            if q == pid:
                raise
    return total


def start_server(token=TOKEN, host="127.0.0.1", workers=1):
    cmd = [sys.executable, "-m", "prosync.cli", "serve", "--host", host, "--token", token]
    if workers > 1:  # the workers share a fixed port (SO_REUSEPORT)
        import socket

        with socket.socket() as so:
            so.bind((host, 0))
            port = so.getsockname()[1]
        cmd += ["--port", str(port), "--workers", str(workers)]
    else:
        cmd += ["--port", "0"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    err: list[str] = []
    t0 = time.time()
    url = None
    while time.time() - t0 < 30:
        line = p.stderr.readline()
        err.append(line)
        m = re.search(r"(ws://[\d.]+:\d+)", line)
        if m:
            url = m.group(1)
            break
    if url is None:
        p.kill()
        raise RuntimeError("".join(err))
    threading.Thread(target=lambda: err.extend(p.stderr), daemon=True).start()
    return p, url, err


class Stats:
    def __init__(self):
        self.lat_ms: list[float] = []
        self.internal = 0
        self.other_errors: list[str] = []
        self.malformed_sent = 0
        self.malformed_answered = 0
        self.disconnects = 0
        self.sessions = 0
        self.summaries = 0
        self.failures: list[str] = []


async def client(url, pcm, sr, until, stats: Stats, rng: random.Random, unruly: bool, reconnect_s: float,
                 interval_ms: float):
    from websockets.asyncio.client import connect

    blk = int(sr * BLOCK_S)
    while time.perf_counter() < until:
        life = rng.expovariate(1 / reconnect_s) if reconnect_s > 0 else 1e9
        t_end = min(until, time.perf_counter() + life)
        graceful = t_end >= until
        sent_at: dict[int, float] = {}
        expected_errors = 0
        try:
            async with connect(url + f"?token={TOKEN}", max_size=None) as ws:
                await ws.send(json.dumps({"type": "start", "sample_rate": sr,
                                          "metrics_interval_ms": interval_ms, "frames": False}))
                ready = json.loads(await ws.recv())
                assert ready["type"] == "ready", ready
                stats.sessions += 1
                done = asyncio.Event()

                async def reader(sent_at=sent_at, done=done):
                    nonlocal expected_errors
                    async for raw in ws:
                        m = json.loads(raw)
                        if m["type"] == "metrics":
                            t = time.perf_counter()
                            k = int(round(min(m["received_s"]) / BLOCK_S))
                            if not unruly and k in sent_at:
                                stats.lat_ms.append((t - sent_at.pop(k)) * 1000)
                                for j in [j for j in sent_at if j < k]:
                                    sent_at.pop(j)
                        elif m["type"] == "error":
                            if m["code"] == "internal":
                                stats.internal += 1
                            elif expected_errors > 0:
                                expected_errors -= 1
                                stats.malformed_answered += 1
                            else:
                                stats.other_errors.append(m["code"] + ": " + m["message"])
                        elif m["type"] == "summary":
                            stats.summaries += 1
                            done.set()
                            return

                rd = asyncio.create_task(reader())
                t0 = time.perf_counter()
                pos = rng.randrange(0, len(pcm) - blk) // blk * blk
                k = 0
                while time.perf_counter() < t_end:
                    i = (pos + k * blk) % (len(pcm) - blk)
                    b = pcm[i:i + blk]
                    k += 1
                    sent_at[k] = time.perf_counter()
                    await ws.send(b"\x00" + b[:, 0].astype("<i2").tobytes())
                    await ws.send(b"\x01" + b[:, 1].astype("<i2").tobytes())
                    if unruly and rng.random() < 0.02:
                        kind, payload = rng.choice(MALFORMED)
                        expected_errors += 1
                        stats.malformed_sent += 1
                        await ws.send(payload)
                    delay = t0 + k * BLOCK_S - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if graceful:
                    await ws.send(json.dumps({"type": "stop"}))
                    await asyncio.wait_for(done.wait(), 30)
                else:
                    # the answers to malformed messages sent just before are awaited (up to 5 s)
                    # first: a client that vanishes cannot receive them
                    for _ in range(500):
                        if not expected_errors:
                            break
                        await asyncio.sleep(0.01)
                    stats.disconnects += 1
                    ws.transport.abort()          # vanish without a close handshake
                rd.cancel()
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001
            if not (not graceful and "close" in type(exc).__name__.lower()):
                stats.failures.append(repr(exc)[:200])


async def _run_clients(url, n, seconds, seed, reconnect_s, pcm, sr, interval_ms, unruly_share=1 / 3):
    stats = Stats()
    rng = random.Random(seed)
    until = time.perf_counter() + seconds
    tasks = []
    for c in range(n):
        await asyncio.sleep(0.013)  # spread the starts over the 20 ms grid
        tasks.append(asyncio.create_task(client(url, pcm, sr, until, stats, random.Random(rng.random()),
                                                c % round(1 / unruly_share) == 1 if n > 1 else False,
                                                reconnect_s, interval_ms)))
    await asyncio.gather(*tasks)
    return stats


async def _refused(url) -> tuple[int, int]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    tried = refused = 0
    for u, hdr in ((url, None), (url + "?token=wrong", None), (url, {"Authorization": "Bearer wrong"})):
        tried += 1
        try:
            async with connect(u, additional_headers=hdr, open_timeout=5):
                pass
        except InvalidStatus as e:
            refused += e.response.status_code == 401
    return tried, refused


def _probe_main(url, seconds, seed, interval_ms, conn) -> None:
    """One well-behaved client in a process of its own (spawned): its latencies, unaffected by
    the load generator's own event loop, are what another user of the server sees."""
    x, sr = sf.read(str(DEMO), dtype="int16")
    st = asyncio.run(_run_clients(url, 1, seconds, seed, 0, x, sr, interval_ms))
    conn.send({"lat_ms": st.lat_ms, "failures": st.failures, "internal": st.internal,
               "other_errors": st.other_errors})
    conn.close()


class _Probe:
    def __init__(self, url, seconds, seed, interval_ms):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.rx, tx = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_probe_main, args=(url, seconds, seed, interval_ms, tx),
                                daemon=True)
        self.proc.start()
        tx.close()

    def result(self, timeout) -> dict:
        if not self.rx.poll(timeout):
            self.proc.kill()
            return {"lat_ms": [], "failures": ["probe client did not report"], "internal": 0,
                    "other_errors": []}
        r = self.rx.recv()
        self.proc.join(5)
        return r


def _pct(x, q):
    return round(float(np.percentile(x, q)), 2) if len(x) else None


def run(clients: int, minutes: float, seed: int = 0, reconnect_s: float = 60.0, log=print,
        baseline_s: float | None = None, workers: int = 1, interval_ms: float = 0) -> dict:
    x, sr = sf.read(str(DEMO), dtype="int16")
    seconds = minutes * 60
    base_s = baseline_s if baseline_s is not None else min(seconds, 60.0)
    srv, url, err = start_server(workers=workers)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample():
        t0 = time.perf_counter()
        while not stop.is_set():
            try:
                samples.append((time.perf_counter() - t0, rss_mb(srv.pid)))
            except OSError:
                return
            stop.wait(5.0)

    try:
        log(f"load: baseline, the probe client alone for {base_s:.0f} s ...")
        base = _Probe(url, base_s, seed, interval_ms).result(base_s + 60)
        threading.Thread(target=sample, daemon=True).start()
        log(f"load: {clients} clients ({clients - 1} load + the probe) for {seconds:.0f} s ...")
        probe = _Probe(url, seconds, seed + 7, interval_ms)
        st = asyncio.run(_run_clients(url, clients - 1, seconds, seed + 1, reconnect_s, x, sr,
                                     interval_ms))
        under = probe.result(120)
        tried, refused = asyncio.run(_refused(url))
        stop.set()
        alive = srv.poll() is None
    finally:
        stop.set()
        srv.terminate()
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()
    t = np.array([s[0] for s in samples]) / 3600
    mb = np.array([s[1] for s in samples])
    steady = t >= min(60, seconds / 4) / 3600
    slope = float(np.polyfit(t[steady], mb[steady], 1)[0]) if steady.sum() >= 3 else float("nan")
    tracebacks = sum("Traceback" in ln for ln in err)
    return {
        "clients": clients, "minutes": minutes, "server_workers": workers,
        "metrics_interval_ms": interval_ms, "bind": url.split("//")[1].rsplit(":", 1)[0],
        "baseline_p50_ms": _pct(base["lat_ms"], 50), "baseline_p99_ms": _pct(base["lat_ms"], 99),
        "probe_p50_ms": _pct(under["lat_ms"], 50), "probe_p99_ms": _pct(under["lat_ms"], 99),
        "probe_samples": len(under["lat_ms"]),
        "p50_ms": _pct(st.lat_ms, 50), "p99_ms": _pct(st.lat_ms, 99), "latency_samples": len(st.lat_ms),
        "sessions": st.sessions, "summaries": st.summaries, "disconnects": st.disconnects,
        "malformed_sent": st.malformed_sent, "malformed_answered": st.malformed_answered,
        "unexpected_errors": len(st.other_errors) + len(base["other_errors"])
        + len(under["other_errors"]),
        "client_failures": len(st.failures) + len(base["failures"]) + len(under["failures"]),
        "client_failure_examples": (st.failures + base["failures"] + under["failures"])[:5],
        "server_errors": st.internal + base["internal"] + under["internal"] + tracebacks
        + (0 if alive else 1),
        "server_alive": alive, "server_tracebacks": tracebacks,
        "rss_start_mb": round(float(mb[0]), 1) if len(mb) else None,
        "rss_end_mb": round(float(mb[-1]), 1) if len(mb) else None,
        "rss_max_mb": round(float(mb.max()), 1) if len(mb) else None,
        "rss_slope_mb_per_h": round(slope, 2),
        "unauthenticated_tried": tried, "unauthenticated_refused": refused,
        "rss_series": [[round(float(a) * 3600, 1), round(float(b), 1)] for a, b in zip(t, mb)],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--reconnect-s", type=float, default=60.0,
                    help="mean time between a client's abrupt disconnects (default 60 s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="server worker processes (default: one per core)")
    ap.add_argument("--interval-ms", type=float, default=100.0,
                    help="metrics_interval_ms of every session (default: the server's 100)")
    ap.add_argument("--out", default=str(RESULTS / "load_ws.json"))
    a = ap.parse_args(argv)
    res = run(a.clients, a.minutes, a.seed, a.reconnect_s, log=lambda m: print(m, flush=True),
              workers=a.workers, interval_ms=a.interval_ms)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    for k, v in res.items():
        if k != "rss_series":
            print(f"{k}: {v}")
    try:
        from bench.reliability.report import update_load
    except ImportError:
        from reliability import update_load
    update_load(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
