"""Per-hop compute time of the public ``Session`` and the whole engine against Praat, one run.

    python bench/bench_hop.py [--seconds 80] [--passes 3] [--quick] [--pin]

* Per hop: a ``Session`` with synchrony and pacing on (the defaults), the two speakers of a real
  stereo recording (CANDOR ``shift.wav`` from ``../shared``, looped to ``--seconds``) pushed
  10 ms at a time: the time of the two pushes of each hop, p50 / p99 / p99.9 / max per pass
  (targets: p99 < 150 µs, p99.9 < 1 ms), and which hops are the slow ones (those that close a
  synchrony window, the others).
* Whole engine on one core: the same audio through a ``Session`` in 0.5 s blocks (as ``prosync
  score`` reads it), against Praat's ``to_pitch_ac`` (parselmouth, 60-500 Hz, 10 ms step) on both
  channels, alternated ``--passes`` times in this one single-threaded process (``--pin``: pinned
  to one CPU); the ratio of the fastest of each (target <= 0.5).

The machine may be busy: the percentiles carry that noise (each pass is listed); the ratio to
Praat is measured side by side in the same process. Writes ``bench/results/hop.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for _shared
from _shared import looped, one_core, percentiles, praat_pitch_ac, shared_data, write_section  # noqa: E402

from prosync import Session  # noqa: E402
from prosync.engine.config import HOP_S, SyncConfig  # noqa: E402

SR = 16000
HOP = 160
QS = (50, 99, 99.9)


def per_hop(x: np.ndarray) -> np.ndarray:
    """Nanoseconds of the two 10 ms pushes of every hop, on a new session."""
    s = Session(sample_rate=SR)
    n = len(x) // HOP
    a = np.ascontiguousarray(x[:, 0])
    b = np.ascontiguousarray(x[:, 1])
    out = np.empty(n, dtype=np.int64)
    clock = time.perf_counter_ns
    for k in range(n):
        lo = k * HOP
        t0 = clock()
        s.push(0, a[lo:lo + HOP])
        s.push(1, b[lo:lo + HOP])
        out[k] = clock() - t0
    s.close()
    return out


def whole(x: np.ndarray, block: int = SR // 2) -> float:
    """Seconds to run the whole engine over ``x`` in ``block``-sample pushes."""
    t0 = time.perf_counter()
    s = Session(sample_rate=SR)
    for i in range(0, len(x), block):
        s.push(0, x[i:i + block, 0])
        s.push(1, x[i:i + block, 1])
    s.close()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=80.0)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="20 s, 1 pass, nothing written")
    ap.add_argument("--pin", action="store_true",
                    help="pin the process to one CPU (on a busy machine this adds waiting)")
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.passes = 20.0, 1
    wav = shared_data() / "candor_mmvap_stereo" / "shift.wav"
    x, _ = looped(wav, args.seconds, SR)
    pinned = one_core() if args.pin else "not pinned (single-threaded: numba kernels are serial)"
    t0 = time.perf_counter()
    per_hop(x[: SR])  # first use in this process: numba cache load, dispatch
    first_s = time.perf_counter() - t0

    cfg = SyncConfig()
    every = int(round(cfg.step_s / HOP_S))  # hops between two synchrony windows
    rows, all_us = [], []
    for p in range(args.passes):
        us = per_hop(x) / 1000.0
        all_us.append(us)
        k = np.arange(len(us))
        win = us[(k + 1) % every == 0]
        rest = us[(k + 1) % every != 0]
        p50, p99, p999 = percentiles(us, QS)
        rows.append(f"| {p + 1} | {len(us)} | {p50:.0f} | {p99:.0f} | {p999:.0f} | {us.max():.0f} | "
                    f"{np.median(win):.0f} / {np.median(rest):.0f} | "
                    f"{int((us > 150).sum())} / {int((us > 1000).sum())} |")
        print(rows[-1], flush=True)
    med = [float(np.median([percentiles(u, (q,))[0] for u in all_us])) for q in QS]

    eng, pr = [], []
    for _ in range(args.passes):
        eng.append(whole(x))
        t0 = time.perf_counter()
        praat_pitch_ac(x, SR)
        pr.append(time.perf_counter() - t0)
        print(f"engine {eng[-1]:.3f} s, Praat {pr[-1]:.3f} s", flush=True)
    ratio = min(eng) / min(pr)
    hop_sum = float(np.median([u.sum() for u in all_us])) / 1e6

    text = "\n".join([
        "## Per-hop compute time and whole engine vs Praat (`python bench/bench_hop.py`)", "",
        f"CANDOR `shift.wav` (41 s stereo, 16 kHz) looped to {args.seconds:g} s; "
        f"{os.cpu_count()} cores, process {pinned}; a busy machine (other jobs running): each "
        "pass is listed, the ratio is side by side in one process.", "",
        f"**Per hop** (public `Session`, synchrony and pacing on, two speakers pushed 10 ms at a "
        f"time; the first 1 s in this process, right after import, took {first_s:.2f} s):"
        f" median over passes p50 **{med[0]:.0f} µs**, p99 **{med[1]:.0f} µs** (target < 150), "
        f"p99.9 **{med[2]:.0f} µs** (target < 1000).", "",
        "| pass | hops | p50 µs | p99 µs | p99.9 µs | max µs | median: window hops / others µs "
        "| hops > 150 µs / > 1 ms |",
        "|---|---|---|---|---|---|---|---|", *rows, "",
        f"Window hops: every {every}th hop closes a synchrony window (step {cfg.step_s:g} s).", "",
        f"**Whole engine on one core** (0.5 s blocks) / Praat `to_pitch_ac` on both channels, "
        f"fastest of {args.passes}: engine {min(eng):.3f} s, Praat {min(pr):.3f} s: "
        f"**{ratio:.2f}×** (target ≤ 0.5). The 10 ms pushes of the per-hop test took "
        f"{hop_sum:.3f} s in all ({hop_sum / min(pr):.2f}× Praat).", ""])
    if args.quick:
        print(text)
    else:
        write_section("hop", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
