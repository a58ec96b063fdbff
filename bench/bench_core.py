"""Speed and memory of the whole per-speaker core, against Praat in the same run.

    python bench/bench_core.py [--minutes 10]

* throughput: two speakers through ``Session`` on a long stereo file, as a ratio to Praat's
  ``to_pitch_ac`` (parselmouth, 60-500 Hz, 10 ms) on the same two channels;
* per-hop compute time for two speakers (p50/p99), pushing 10 ms blocks;
* cold (empty numba cache) and warm start of ``prosync score`` on a 10 s file;
* peak memory of ``prosync score`` on a 1-minute and a 60-minute file (must not grow).

The long files are the built-in demo dialogue tiled: nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for _shared
from _shared import DEMO, RESULTS, praat_pitch_ac  # noqa: E402

from prosync import Session  # noqa: E402

OUT = RESULTS / "core.md"


def tiled(minutes: float) -> np.ndarray:
    x, sr = sf.read(str(DEMO), dtype="float32")
    n = int(minutes * 60 * sr)
    reps = -(-n // len(x))
    return np.tile(x, (reps, 1))[:n]


def run_session(x, block=8000, with_sync=True):
    s = Session(sample_rate=16000, synchrony=with_sync)  # off: the core and turn tracker alone
    for i in range(0, len(x), block):
        s.push(0, x[i:i + block, 0])
        s.push(1, x[i:i + block, 1])
    s.close()


def praat(x):
    praat_pitch_ac(x, 16000)


def per_hop(x, n_hops=6000, with_sync=True):
    s = Session(sample_rate=16000, synchrony=with_sync)
    times = np.empty(n_hops)
    for k in range(n_hops):
        a = x[k * 160:(k + 1) * 160, 0]
        b = x[k * 160:(k + 1) * 160, 1]
        t0 = time.perf_counter_ns()
        s.push(0, a)
        s.push(1, b)
        times[k] = time.perf_counter_ns() - t0
    return times / 1000.0


def cli_run(args, env=None):
    """Run ``prosync`` in a child; return (wall seconds, peak RSS MB of that child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child forked from this big
    # process would report this process's size
    code = ("import re,sys;from prosync.cli import main;rc=main(sys.argv[1:]);"
            "hwm=re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1);"
            "print('RSS', hwm, file=sys.stderr);sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                       text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(p.stderr)
    rss = [int(line.split()[1]) for line in p.stderr.splitlines() if line.startswith("RSS")][0]
    del before
    return wall, rss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--long-minutes", type=float, default=60.0)
    args = ap.parse_args()
    rows = []
    x = tiled(args.minutes)
    t0 = time.perf_counter()
    run_session(x[:16000])
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_session(x)
    t_core = time.perf_counter() - t0
    t0 = time.perf_counter()
    praat(x)
    t_praat = time.perf_counter() - t0
    dur = len(x) / 16000
    t0 = time.perf_counter()
    run_session(x, with_sync=False)
    t_core_only = time.perf_counter() - t0
    rows.append(("per-speaker core (pitch, energy, VAD, rate, turns), 2 speakers / Praat "
                 "to_pitch_ac on both channels", f"{t_core_only / t_praat:.2f}",
                 f"{args.minutes:g} min stereo: prosync {t_core_only:.2f} s "
                 f"(RTF {t_core_only / dur:.4f}), Praat {t_praat:.2f} s"))
    rows.append(("whole Session with synchrony and pacing / Praat", f"{t_core / t_praat:.2f}",
                 f"prosync {t_core:.2f} s; with synchrony / core alone: {t_core / t_core_only:.2f}"))
    rows.append(("first-call overhead in this process (numba cache load)", f"{compile_s:.2f} s", ""))
    per_hop(x, 300)  # warm
    for label, sync in (("core", False), ("whole Session", True)):
        hop = per_hop(x, with_sync=sync)
        rows.append((f"per-hop compute, 2 speakers, {label}: p50 / p90 / p99",
                     " / ".join(f"{np.percentile(hop, q):.0f}" for q in (50, 90, 99)) + " µs",
                     f"{len(hop)} hops of 10 ms pushed one by one"))

    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        f10 = td / "ten_s.flac"
        sf.write(str(f10), x[:160000], 16000)
        env = dict(os.environ, NUMBA_CACHE_DIR=str(td / "cold_cache"))
        cold, _ = cli_run(["score", str(f10), "--out", str(td / "o1"), "--quiet"], env)
        warm, _ = cli_run(["score", str(f10), "--out", str(td / "o2"), "--quiet"], env)
        rows.append(("`prosync score` 10 s file, cold start (empty numba cache)", f"{cold:.1f} s", ""))
        rows.append(("`prosync score` 10 s file, warm start", f"{warm:.1f} s", ""))
        mem = {}
        for minutes in (1.0, args.long_minutes):
            f = td / f"m{minutes:g}.flac"
            with sf.SoundFile(str(f), "w", 16000, 2, format="FLAC") as out:
                one = tiled(1.0)
                for _ in range(int(minutes)):
                    out.write(one)
            wall, rss = cli_run(["score", str(f), "--out", str(td / f"o{minutes:g}"), "--quiet"],
                                env)
            mem[minutes] = rss
            rows.append((f"`prosync score` {minutes:g} min stereo: peak RSS", f"{rss:.0f} MB",
                         f"wall {wall:.1f} s, RTF {wall / (minutes * 60):.4f}"))
    table = ["| measure | value | notes |", "|---|---|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = ("## Core speed and memory (`python bench/bench_core.py`)\n\n"
            f"Machine: {os.cpu_count()} cores. Speed is a ratio to Praat measured in the same run.\n\n"
            + "\n".join(table) + "\n")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
