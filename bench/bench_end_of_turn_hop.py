"""Per-hop cost of the end-of-turn tracker: the public ``Session`` with it and without it.

    nice -n 5 python bench/bench_end_of_turn_hop.py [--seconds 20] [--passes 3]

CANDOR ``shift.wav`` (both speakers) pushed 10 ms at a time through a ``Session`` with the
end-of-turn tracker (the default) and through one with it switched off, alternated ``--passes``
times in one process; per hop the CPU time of the two pushes (``time.thread_time_ns``, without
the waits of a busy machine). Writes ``bench/results/end_of_turn_hop.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import looped, percentiles, shared_data, write_section  # noqa: E402

from prosync import Session  # noqa: E402

HOP = 160


def run(x: np.ndarray, sr: int, eot: bool) -> np.ndarray:
    s = Session(("a", "b"), sample_rate=sr)
    if not eot:
        s._eot = None  # the session without the tracker (as before it existed)
    ts = np.empty(x.shape[0] // HOP, np.int64)
    for k in range(ts.size):
        i = k * HOP
        t0 = time.thread_time_ns()
        s.push(0, x[i:i + HOP, 0])
        s.push(1, x[i:i + HOP, 1])
        ts[k] = time.thread_time_ns() - t0
    return ts[100:] / 1000.0  # µs, the first second left out (warm-up)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args(argv)
    x, sr = looped(shared_data() / "candor_mmvap_stereo" / "shift.wav", args.seconds)
    run(x[: sr], sr, True)  # compile and warm up
    res = {True: [], False: []}
    for _ in range(args.passes):
        for eot in (True, False):
            res[eot].append(run(x, sr, eot))
    rows = []
    for eot in (True, False):
        a = np.concatenate(res[eot])
        p50, p99, p999 = percentiles(a)
        rows.append(f"| {'with' if eot else 'without'} the end-of-turn tracker | {a.size} | "
                    f"{p50:.0f} | {p99:.0f} | {p999:.0f} | {a.mean():.1f} |")
    text = "\n".join([
        "## End of turn: per-hop cost (`python bench/bench_end_of_turn_hop.py`)", "",
        f"CANDOR `shift.wav` looped to {args.seconds:.0f} s, both speakers pushed 10 ms at a "
        f"time, {args.passes} alternated passes each; CPU time of this thread per hop (a busy "
        "machine: compare the rows, measured in the same run).", "",
        "| session | hops | p50 µs | p99 µs | p99.9 µs | mean µs |", "|---|---|---|---|---|---|",
        *rows, ""])
    write_section("end_of_turn_hop", text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
