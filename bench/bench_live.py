"""Live door: audio-to-metric latency and CPU of ``prosync live`` through a virtual microphone.

A private PulseAudio null sink (tests/virtual_mic.py) plays the built-in demo dialogue in real
time; ``prosync live --device pulse --jsonl -`` captures it in a child process.

* Latency of a hop: from the callback entry of the block holding the hop's last sample (stamped
  in the child with ``time.monotonic_ns``, written by ``--latency-log``) to the moment this process
  receives the frame's JSON line from the child's stdout (the metric has left the process; the
  same CLOCK_MONOTONIC in both). The documented look-ahead is subtracted for the goal.
* CPU: user + system time of the child from /proc over 30 s of steady capture (start-up excluded).

Writes ``bench/results/live.md``. Usage: ``python bench/bench_live.py [--seconds 30]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for _shared
from _shared import DEMO, RESULTS, ROOT  # noqa: E402

from tests import virtual_mic  # noqa: E402


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def run(vm, tmp: Path, seconds: float, rate: int, extra: list[str]) -> dict:
    import subprocess

    wav = tmp / "play.wav"
    x, sr = sf.read(str(DEMO), dtype="int16")
    sf.write(str(wav), x[: int((seconds + 6) * sr)], sr, subtype="PCM_16")
    log = tmp / f"lat-{rate}-{len(extra)}.npy"
    cmd = [sys.executable, "-m", "prosync.cli", "live", "--device", virtual_mic.DEVICE,
           "--rate", str(rate), "--jsonl", "-", "--latency-log", str(log), *extra]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    recv: dict[float, int] = {}
    first = threading.Event()

    def drain():
        for ln in p.stdout:
            t = time.monotonic_ns()
            first.set()
            if ln.startswith(b'{"type": "frame"'):
                r = json.loads(ln)
                recv[r["t_s"]] = t          # the later of the two speakers' lines wins
        first.set()

    th = threading.Thread(target=drain, daemon=True)
    th.start()
    if not first.wait(60):
        raise SystemExit(f"prosync live printed nothing: {p.stderr.read().decode()}")
    play = vm.play(wav)
    time.sleep(2.0)
    c0, w0 = cpu_s(p.pid), time.monotonic()
    time.sleep(seconds)
    c1, w1 = cpu_s(p.pid), time.monotonic()
    p.send_signal(2)
    err = p.stderr.read().decode()
    p.wait(30)
    th.join(10)
    play.terminate()
    play.wait(10)
    lat = np.load(log)
    k, arr, emit = lat[:, 0], lat[:, 1], lat[:, 2]
    got = np.array([recv.get(round((kk + 0.5) * 0.01, 3), 0) for kk in k], dtype=np.int64)
    ok = got > 0
    out_ms = (got[ok] - arr[ok]) / 1e6
    emit_ms = (emit - arr) / 1e6
    return {"cpu": (c1 - c0) / (w1 - w0), "wall": w1 - w0, "lat_ms": out_ms, "emit_ms": emit_ms,
            "n": int(ok.sum()), "stderr": err.strip().splitlines()[-1] if err.strip() else ""}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    why = virtual_mic.unavailable()
    if why:
        print(f"skipped: no virtual microphone: {why}")
        return 0
    import prosync

    look_ms = prosync.Session().lookahead_s * 1000
    rows = []
    with tempfile.TemporaryDirectory() as d, virtual_mic.VirtualMic(rate=16000) as vm:
        tmp = Path(d)
        for rate, extra, label in ((16000, [], "--jsonl -"),
                                   (48000, ["--record", str(tmp / "rec")],
                                    "--jsonl - --record DIR, device at 48 kHz")):
            r = run(vm, tmp, args.seconds, rate, extra)
            p50, p99 = np.percentile(r["lat_ms"], [50, 99])
            e50, e99 = np.percentile(r["emit_ms"], [50, 99])
            rows.append((label, r, p50, p99, e50, e99))
            print(f"{label}: latency p50 {p50:.1f} ms p99 {p99:.1f} ms (look-ahead {look_ms:.1f} ms; "
                  f"p99 beyond it {p99 - look_ms:.1f} ms), in-process p50 {e50:.1f} p99 {e99:.1f}; "
                  f"CPU {100 * r['cpu']:.2f} % of one core over {r['wall']:.0f} s; {r['stderr']}")
    lines = [
        "## Live door: latency and CPU through a virtual microphone (`python bench/bench_live.py`)",
        "",
        f"Machine: {os.cpu_count()} cores, no sound card: a PulseAudio null sink plays the demo "
        "dialogue in real time, `prosync live --device pulse` captures its monitor (default 20 ms blocks). "
        f"Documented look-ahead: {look_ms:.1f} ms (`Session.lookahead_s`).",
        "",
        "Latency of a hop: the callback entry of the block holding the hop's last sample → this "
        "process reading the frame's JSON line from the child's stdout (both speakers' lines; "
        "CLOCK_MONOTONIC). In-process: the same, to the line written and flushed. CPU: user + "
        "system time of the child from /proc over the steady window, start-up excluded.",
        "",
        "| run | hops | latency p50 ms | latency p99 ms | p99 beyond look-ahead ms (goal < 30) "
        "| in-process p50 / p99 ms | CPU % of one core (goal < 5) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, r, p50, p99, e50, e99 in rows:
        lines.append(f"| `{label}` | {r['n']} | {p50:.1f} | {p99:.1f} | {p99 - look_ms:.1f} | "
                     f"{e50:.1f} / {e99:.1f} | {100 * r['cpu']:.2f} ({r['wall']:.0f} s) |")
    lines += ["", "Child's own report: " + "; ".join(f"`{r['stderr']}`" for _, r, *_ in rows), ""]
    out = RESULTS / "live.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
