"""First push in a new process: does it wait for the JIT?

Each measurement runs in a fresh Python process (numba's on-disk cache warm, as after any first
run): import prosync, construct the wrapper (``Session``, ``AgentSession``, the Pipecat
``ProsyncProcessor``), then push the demo dialogue 20 ms per speaker at a time for 12 s (past
the first synchrony window). Reported: construction time, the first push (both speakers' first
20 ms) and the slowest push of the 12 s. The reference is ``Session(warm=False)``: the old
behaviour, where the kernels load during the first pushes. Target: first push under 20 ms.

Writes ``bench/results/first_push.md``. Usage: ``python bench/bench_first_push.py [--runs 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for _shared
from _shared import DEMO, ROOT, write_section  # noqa: E402

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np, soundfile as sf
import prosync
t_import = time.perf_counter() - t0
kind, demo = sys.argv[1], sys.argv[2]
x, sr = sf.read(demo, dtype="int16", always_2d=True, frames=12 * 48000)
t0 = time.perf_counter()
if kind == "session":
    from prosync import Session
    s = Session(sample_rate=sr)
    push = s.push
elif kind == "cold":
    from prosync import Session
    s = Session(sample_rate=sr, warm=False)
    push = s.push
elif kind == "agent":
    from prosync.agent import AgentSession
    s = AgentSession(sr, pad_agent=False)
    push = s.push
else:
    import asyncio
    from pipecat.frames.frames import InputAudioRawFrame, OutputAudioRawFrame
    from pipecat.processors.frame_processor import FrameDirection
    from prosync.pipecat_adapter import ProsyncProcessor
    proc = ProsyncProcessor(sample_rate=sr)
    s = proc.agent_session
    push = s.push  # the processor's own path adds frame handling, not engine work
t_construct = time.perf_counter() - t0
step = sr // 50
times = []
first_frames = None  # the first push whose update has frames: the kernels' first calls
for k in range(0, len(x) - step + 1, step):
    t0 = time.perf_counter()
    u0 = push(0, x[k:k + step, 0])
    u1 = push(1, x[k:k + step, 1])
    times.append(time.perf_counter() - t0)
    if first_frames is None and any(len(r) for u in (u0, u1) for r in u.frames.values()):
        first_frames = times[-1]
second = times[:50]
print(json.dumps({"import_s": t_import, "construct_s": t_construct, "first_push_s": times[0],
                  "first_frames_push_s": first_frames,
                  "max_first_second_s": max(second), "max_push_s": max(times),
                  "p99_push_s": float(np.percentile(times, 99)), "pushes": len(times)}))
"""

KINDS = (("cold", "Session(warm=False): the old behaviour"), ("session", "Session()"),
         ("agent", "AgentSession()"), ("pipecat", "ProsyncProcessor() (Pipecat)"))


def run(kind: str) -> dict:
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "prosync" / "numba"))
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(DEMO)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(f"{kind}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per wrapper (default 3)")
    args = ap.parse_args(argv)
    run("session")  # fill numba's on-disk cache (a first run ever compiles)
    res = {k: [run(k) for _ in range(args.runs)] for k, _ in KINDS}

    def med(k, f):
        v = sorted(r[f] for r in res[k])
        return v[len(v) // 2] * 1000

    lines = ["# First push in a new process (`python bench/bench_first_push.py`)\n",
             f"A fresh process per run ({args.runs} runs per row, median shown; numba's on-disk "
             "cache warm). Construction includes loading the kernels (`prosync.engine.warm`). "
             "A push is both speakers' next 20 ms of the demo dialogue: the very first one "
             "produces no frame yet (look-ahead); the first push with frames is the kernels' "
             "first call (the JIT's stall before). The slowest push of the first second and "
             "the slowest and p99 push over 12 s include synchrony windows and pacing (the "
             "steady-state cost, spread across hops by other work) and the scheduling noise of "
             "a busy machine (2 cores shared with other jobs): compare rows, not absolute "
             "figures. Target: the first push with frames under 20 ms after construction (it "
             "took 630-700 ms).\n",
             "| wrapper | construct ms | first push ms | first push with frames ms | "
             "slowest push, first second, ms | slowest push, 12 s, ms | p99 push, 12 s, ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for k, label in KINDS:
        lines.append(f"| {label} | {med(k, 'construct_s'):.0f} | {med(k, 'first_push_s'):.1f} | "
                     f"{med(k, 'first_frames_push_s'):.1f} | "
                     f"{med(k, 'max_first_second_s'):.1f} | {med(k, 'max_push_s'):.1f} | "
                     f"{med(k, 'p99_push_s'):.1f} |")
    ok = all(med(k, "first_frames_push_s") < 20 for k, _ in KINDS if k != "cold")
    lines.append("\nFirst push with frames under 20 ms after construction: "
                 f"{'met' if ok else 'NOT met'} (medians of the runs).\n")
    write_section("first_push", "\n".join(lines))
    (Path(__file__).resolve().parent / "results" / "first_push.json").write_text(
        json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
