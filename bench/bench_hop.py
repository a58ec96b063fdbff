"""Per-hop compute time of the public ``Session`` and the whole engine against Praat, one run.

    python bench/bench_hop.py [--seconds 80] [--passes 3] [--quick] [--pin]

* Per hop: a ``Session`` with synchrony and pacing on (the defaults), the two speakers of a real
  stereo recording (CANDOR ``shift.wav`` from ``../shared``, looped to ``--seconds``) pushed
  10 ms at a time: the time of the two pushes of each hop, p50 / p99 / p99.9 / max per pass
  (targets: p99 < 150 µs, p99.9 < 1 ms), for the spread schedule and, alternated with it, the
  previous one (a bin's binning, synchrony and pacing all in one push). Compute is this
  thread's CPU time (``time.thread_time_ns``: without the waits for a core of a busy machine);
  one pass is also timed on the wall clock.
* Whole engine, one thread: the same audio through a ``Session`` in 0.5 s blocks (as ``prosync
  score`` reads it), against Praat's ``to_pitch_ac`` (parselmouth, 60-500 Hz, 10 ms step) on
  both channels, alternated ``--passes`` times in this process; the ratio of the fastest of
  each, in CPU time and wall time (target <= 0.5).

Writes ``bench/results/hop.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for _shared
from _shared import config_with, looped, one_core, percentiles, praat_pitch_ac, shared_data, write_section  # noqa: E402

from prosync import Session  # noqa: E402
from prosync.engine.config import HOP_S, SyncConfig  # noqa: E402

SR = 16000
HOP = 160
QS = (50, 99, 99.9)


class AllAtOnce(Session):
    """The schedule before the spreading, for comparison in the same run: every bin's
    binning, synchrony and pacing update in the push that completes the bin."""

    def _run_tasks(self, upd, joined):
        super()._run_tasks(upd, None)


#: ``--set`` overrides of the default Config (None: the defaults).
CONFIG = None


def per_hop(x: np.ndarray, cls=Session, clock=time.thread_time_ns) -> np.ndarray:
    """Nanoseconds of the two 10 ms pushes of every hop, on a new session."""
    s = cls(sample_rate=SR, config=CONFIG)
    n = len(x) // HOP
    a = np.ascontiguousarray(x[:, 0])
    b = np.ascontiguousarray(x[:, 1])
    out = np.empty(n, dtype=np.int64)
    for k in range(n):
        lo = k * HOP
        t0 = clock()
        s.push(0, a[lo:lo + HOP])
        s.push(1, b[lo:lo + HOP])
        out[k] = clock() - t0
    s.close()
    return out


def whole(x: np.ndarray, block: int = SR // 2) -> tuple[float, float]:
    """(CPU, wall) seconds to run the whole engine over ``x`` in ``block``-sample pushes."""
    c0, t0 = time.thread_time(), time.perf_counter()
    s = Session(sample_rate=SR, config=CONFIG)
    for i in range(0, len(x), block):
        s.push(0, x[i:i + block, 0])
        s.push(1, x[i:i + block, 1])
    s.close()
    return time.thread_time() - c0, time.perf_counter() - t0


def praat(x: np.ndarray) -> tuple[float, float]:
    """(CPU, wall) seconds of the peer on both channels."""
    c0, t0 = time.thread_time(), time.perf_counter()
    praat_pitch_ac(x, SR)
    return time.thread_time() - c0, time.perf_counter() - t0


def stages(x: np.ndarray) -> list[str]:
    """Where a hop's CPU time goes: each stage's median and p90 per call (µs) on one 10 ms pass,
    timed by wrapping the session's parts (the wrappers add about 1 µs a call)."""
    import collections

    acc = collections.defaultdict(list)
    clock = time.thread_time_ns

    def wrap(obj, name, label):
        f = getattr(obj, name)

        def timed(*args, **kw):
            t0 = clock()
            r = f(*args, **kw)
            acc[label].append(clock() - t0)
            return r

        setattr(obj, name, timed)

    s = Session(sample_rate=SR, config=CONFIG)
    tr = s._tracks[0]
    for obj, name, label in ((s, "push", "push (one speaker, all of it)"),
                             (tr, "_compute", "speaker 1: all kernels of a hop (one numba call)"),
                             (s, "_join", "join (cross-talk, turns, end of turn, tasks)"),
                             (s._xtalk, "apply", "cross-talk"),
                             (s._turns, "update", "turn tracker"),
                             (s._sync, "bin_one", "task: binning one speaker (2 per 100 ms)"),
                             (s._sync, "push_series", "task: synchrony history (per 100 ms)"),
                             (s._sync, "push_wcc", "task: streaming WCC, two features (2 per 100 ms)"),
                             (s._sync, "refresh", "task: surrogate refresh (per 100 ms)"),
                             (s._sync, "rows_due", "task: window rows (per 100 ms)"),
                             (s._pacing, "update", "task: pacing (per 100 ms)")):
        wrap(obj, name, label)
    if getattr(s, "_eot", None) is not None:
        wrap(s._eot, "update", "end of turn")
    for k in range(len(x) // HOP):
        s.push(0, x[k * HOP:(k + 1) * HOP, 0])
        s.push(1, x[k * HOP:(k + 1) * HOP, 1])
    rows = ["| stage | calls | median µs | p90 µs |", "|---|---|---|---|"]
    for label, v in acc.items():
        us = np.array(v) / 1000.0
        p50, p90 = percentiles(us, (50, 90))
        rows.append(f"| {label} | {len(us)} | {p50:.1f} | {p90:.1f} |")
    return rows


def hop_row(p: int, label: str, us: np.ndarray, every: int) -> str:
    k = np.arange(len(us))
    win, rest = us[(k + 1) % every == 0], us[(k + 1) % every != 0]
    p50, p99, p999 = percentiles(us, QS)
    return (f"| {p} | {label} | {len(us)} | {p50:.0f} | {p99:.0f} | {p999:.0f} | {us.max():.0f} | "
            f"{np.median(win):.0f} / {np.median(rest):.0f} | "
            f"{int((us > 150).sum())} / {int((us > 1000).sum())} |")


def _machine(load0: float, load1: float) -> str:
    """How busy the machine was: the 1-minute load average at the start and the end of the run
    (this bench alone adds about 1)."""
    busy = max(load0, load1) > 1.5
    return (f"**{'a busy' if busy else 'an idle'} machine** ({'other jobs running; ' if busy else ''}"
            f"load average {load0:.1f} at the start, {load1:.1f} at the end)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=80.0)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="20 s, 1 pass, nothing written")
    ap.add_argument("--pin", action="store_true",
                    help="pin the process to one CPU (on a busy machine this adds waiting)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                    help="run with this Config override (repeatable; nothing written), e.g. "
                         "--set vad.band_count=1 --set vad.band_lo_hz=0")
    args = ap.parse_args(argv)
    global CONFIG
    CONFIG = config_with(args.set) if args.set else None
    if args.quick:
        args.seconds, args.passes = 20.0, 1
    wav = shared_data() / "candor_mmvap_stereo" / "shift.wav"
    x, _ = looped(wav, args.seconds, SR)
    load0 = os.getloadavg()[0]
    pinned = one_core() if args.pin else "not pinned (one thread: the numba kernels are serial)"
    t0 = time.perf_counter()
    per_hop(x[:SR])  # first use in this process: numba cache load, dispatch
    first_s = time.perf_counter() - t0

    every = int(round(SyncConfig().step_s / HOP_S))  # hops between two synchrony windows
    schedules = (("spread", Session, time.thread_time_ns),
                 ("all at once", AllAtOnce, time.thread_time_ns),
                 ("spread, wall clock", Session, time.perf_counter_ns))
    rows, runs = [], {label: [] for label, _, _ in schedules}
    for p in range(args.passes):
        for label, cls, clock in schedules:
            us = per_hop(x, cls, clock) / 1000.0
            runs[label].append(us)
            rows.append(hop_row(p + 1, label, us, every))
            print(rows[-1], flush=True)

    def med(label):
        return [float(np.median([percentiles(u, (q,))[0] for u in runs[label]])) for q in QS]

    m, m_old, m_wall = med("spread"), med("all at once"), med("spread, wall clock")

    eng, pr = [], []
    for _ in range(args.passes):
        eng.append(whole(x))
        pr.append(praat(x))
        print(f"engine {eng[-1][0]:.3f} s CPU ({eng[-1][1]:.3f} wall), "
              f"Praat {pr[-1][0]:.3f} s CPU ({pr[-1][1]:.3f} wall)", flush=True)
    e_cpu, e_wall = min(e[0] for e in eng), min(e[1] for e in eng)
    p_cpu, p_wall = min(q[0] for q in pr), min(q[1] for q in pr)
    hop_sum = float(np.median([u.sum() for u in runs["spread"]])) / 1e6
    stage_rows = stages(x[: 40 * SR])

    text = "\n".join([
        "## Per-hop compute time and whole engine vs Praat (`python bench/bench_hop.py`)", "",
        f"CANDOR `shift.wav` (41 s stereo, 16 kHz) looped to {args.seconds:g} s; "
        f"{os.cpu_count()} cores, {pinned}; {_machine(load0, os.getloadavg()[0])}: compute is "
        "this thread's CPU time "
        "(`time.thread_time_ns`), which leaves out the waits for a core; one schedule is also "
        "timed on the wall clock. Each pass is listed; the ratio to Praat is side by side in "
        "one process.", "",
        f"**Per hop** (public `Session`, synchrony and pacing on, two speakers pushed 10 ms at a "
        f"time; the first 1 s in this process, right after import, took {first_s:.2f} s): "
        f"median over passes p50 **{m[0]:.0f} µs**, p99 **{m[1]:.0f} µs** (target < 150), "
        f"p99.9 **{m[2]:.0f} µs** (target < 1000) of CPU; on the wall clock p50 "
        f"{m_wall[0]:.0f}, p99 {m_wall[1]:.0f}, p99.9 {m_wall[2]:.0f} µs. The previous schedule "
        f"(a bin's binning, synchrony and pacing all in the push that completes it), alternated "
        f"with it: p50 {m_old[0]:.0f}, p99 {m_old[1]:.0f}, p99.9 {m_old[2]:.0f} µs of CPU.", "",
        "| pass | schedule | hops | p50 µs | p99 µs | p99.9 µs | max µs | median: window hops / "
        "others µs | hops > 150 µs / > 1 ms |",
        "|---|---|---|---|---|---|---|---|---|", *rows, "",
        f"Window hops: every {every}th hop closes a synchrony window "
        f"(step {SyncConfig().step_s:g} s).", "",
        f"**Whole engine, one thread** (0.5 s blocks) / Praat `to_pitch_ac` on both channels, "
        f"fastest of {args.passes}: CPU engine {e_cpu:.3f} s, Praat {p_cpu:.3f} s: "
        f"**{e_cpu / p_cpu:.2f}×** (target ≤ 0.5); wall {e_wall:.3f} s / {p_wall:.3f} s = "
        f"{e_wall / p_wall:.2f}×. The 10 ms pushes of the per-hop test took {hop_sum:.3f} s of "
        f"CPU in all ({hop_sum / p_cpu:.2f}× Praat): the cost of pushing 10 ms at a time.", "",
        "Where a hop's CPU time goes (40 s, 10 ms pushes, each stage wrapped):", "",
        *stage_rows, ""])
    if args.quick or args.set:
        print(("with " + " ".join(f"--set {x}" for x in args.set) + "\n\n") * bool(args.set) + text)
    else:
        write_section("hop", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
