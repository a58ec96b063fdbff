"""Server-side memory checks behind ``prosync serve``'s trimming (writes
bench/results/server_memory.md).

    python bench/reliability/server_memory.py [--churn-s 120]

1. Trim: 40 ``AgentSession`` fed 30 s of the demo dialogue in 100 ms blocks; half are freed;
   RSS before and after glibc ``malloc_trim(0)`` (what the server calls every 10 s) and its time.
2. Churn: 25 sessions in one process at full speed, each replaced by a fresh one after an
   exponentially distributed life (mean 60 s of audio), a tenth of them closed with a summary
   first; RSS sampled as the audio per slot grows.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

import soundfile as sf

if __package__ in (None, ""):  # run as a file: put the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._shared import DEMO, RESULTS  # noqa: E402

OUT = RESULTS / "server_memory.md"
BLOCK = 1600  # 100 ms at 16 kHz


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def main(argv=None) -> int:
    from prosync.agent import AgentSession
    from prosync.streams.heap import malloc_trim as _malloc_trim
    from prosync.streams.websocket import warm_up

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--churn-s", type=float, default=120.0, help="wall seconds of the churn part")
    a = ap.parse_args(argv)
    warm_up()
    x, sr = sf.read(str(DEMO), dtype="int16")
    trim = _malloc_trim()
    lines = ["## Server memory (`python bench/reliability/server_memory.py`)", ""]

    base = rss_mb()
    ss = [AgentSession(sr, pad_agent=False) for _ in range(40)]
    for k in range(0, 30 * sr, BLOCK):
        for s in ss:
            s.push_user(x[k:k + BLOCK, 0])
            s.push_agent(x[k:k + BLOCK, 1])
    full = rss_mb()
    del ss[::2]
    gc.collect()
    freed = rss_mb()
    t0 = time.perf_counter()
    if trim is not None:
        trim(0)
    trim_ms = (time.perf_counter() - t0) * 1000
    after = rss_mb()
    lines += ["| step | RSS MB |", "|---|---|", f"| after warm-up | {base:.1f} |",
              f"| 40 sessions × 30 s | {full:.1f} |", f"| 20 of them freed | {freed:.1f} |",
              f"| `malloc_trim(0)` ({trim_ms:.1f} ms) | {after:.1f} |"
              if trim is not None else "| malloc_trim unavailable (not glibc) | – |", ""]
    del ss
    gc.collect()

    rng = random.Random(0)

    def new():
        return [AgentSession(sr, pad_agent=False), rng.randrange(0, len(x) - BLOCK) // BLOCK * BLOCK,
                rng.expovariate(1 / 600)]

    slots = [new() for _ in range(25)]
    samples = []
    t0 = time.perf_counter()
    step = 0
    while time.perf_counter() - t0 < a.churn_s:
        for j, (s, pos, _) in enumerate(slots):
            i = pos % (len(x) - BLOCK)
            s.push_user(x[i:i + BLOCK, 0])
            s.push_agent(x[i:i + BLOCK, 1])
            slots[j][1] += BLOCK
            slots[j][2] -= 1
            if slots[j][2] <= 0:
                if rng.random() < 0.1:
                    s.close()
                    s.summary()
                slots[j] = new()
        step += 1
        if step % 500 == 0:
            samples.append((step * BLOCK / sr / 60, rss_mb()))
    lines += ["Churn: 25 sessions replaced at random (mean life 60 s of audio), full speed.", "",
              "| audio per slot (min) | RSS MB |", "|---|---|"]
    lines += [f"| {m:.1f} | {mb:.1f} |" for m, mb in samples]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(OUT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
