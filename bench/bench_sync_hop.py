"""Per-hop cost of synchrony with its time-shift surrogates, and the cost of the session test.

    nice -n 5 python bench/bench_sync_hop.py

* per-hop compute time of the public ``Session`` (two speakers pushed 10 ms at a time) on the
  CANDOR ``shift.wav`` looped to 80 s, with synchrony (and its surrogate pools) on and off in
  the same run, p50 / p99 / p99.9 in µs; and the same over 60 s after 5 minutes (the window
  surrogates rotate the utterances of the last 5 minutes: their largest span);
* wall time of ``Session.session_synchrony()`` (all four features) at the end of a 150 s loop
  and of ``session_test`` on 5 and 20 minutes of real series (the CANDOR series tiled).

Timings on a busy shared machine are noisy: read the ratios to the peer in the same run.
Writes ``bench/results/sync_hop.md``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import RESULTS, shared_data  # noqa: E402
from bench_core import per_hop  # noqa: E402

from prosync import Session  # noqa: E402
from prosync.engine.config import SyncConfig  # noqa: E402
from prosync.engine.session_sync import session_test  # noqa: E402
from prosync.engine.synchrony import FEATURES  # noqa: E402

OUT = RESULTS / "sync_hop.md"


def per_hop_after(x, skip_s, n_hops, with_sync):
    """Thread CPU µs per hop (both speakers' 10 ms pushes) of ``n_hops`` hops after ``skip_s``
    (CPU time: on a shared machine the wall clock's p99 is the scheduler's)."""
    s = Session(sample_rate=16000, synchrony=with_sync)
    k0 = int(skip_s * 100)
    for k in range(0, k0, 50):  # the first minutes in 0.5 s pushes, untimed
        s.push(0, x[k * 160:(k + 50) * 160, 0])
        s.push(1, x[k * 160:(k + 50) * 160, 1])
    times = np.empty(n_hops)
    for j in range(n_hops):
        k = k0 + j
        t0 = time.thread_time_ns()
        s.push(0, x[k * 160:(k + 1) * 160, 0])
        s.push(1, x[k * 160:(k + 1) * 160, 1])
        times[j] = time.thread_time_ns() - t0
    return times / 1000.0


def main() -> int:
    x, sr = sf.read(str(shared_data() / "candor_mmvap_stereo" / "shift.wav"), dtype="float32")
    x = np.tile(x, (-(-80 * sr // len(x)), 1))[:80 * sr]
    per_hop(x, 300)  # warm
    rows = []
    for label, sync in (("synchrony on", True), ("synchrony off", False), ("synchrony on", True)):
        t = per_hop(x, n_hops=7990, with_sync=sync)
        rows.append((label, *np.percentile(t, [50, 99, 99.9])))
    long = np.tile(x, (5, 1))[:360 * sr]
    for label, sync in (("after 5 min, synchrony on (CPU)", True),
                        ("after 5 min, synchrony off (CPU)", False),
                        ("after 5 min, synchrony on (CPU)", True)):
        t = per_hop_after(long, 300, 6000, sync)
        rows.append((label, *np.percentile(t, [50, 99, 99.9])))
    x = np.tile(x, (2, 1))[:150 * sr]  # 150 s: long enough for the session test
    s = Session(sample_rate=sr)
    for k in range(0, len(x), 1600):
        s.push(0, x[k:k + 1600, 0])
        s.push(1, x[k:k + 1600, 1])
    s.session_synchrony()
    t0 = time.perf_counter()
    res = s.session_synchrony()
    t80 = time.perf_counter() - t0
    series = {f: s.synchrony_series(f) for f in FEATURES}
    lines = ["# Synchrony per-hop cost and session-test cost (`python bench/bench_sync_hop.py`)\n",
             "CANDOR shift.wav looped to 80 s, both speakers pushed 10 ms at a time through the "
             "public `Session` (live preset: 99 surrogates per feature pool, 4 new per 100 ms "
             "bin: utterance rotations over the last 5 minutes for f0, energy and rate, time "
             "shifts for voice activity); first three rows wall clock from the start; *after 5 min*: "
             "60 s timed in thread CPU after 300 s of the loop (the rotations' largest span). "
             "Busy 2-core machine shared with other jobs.\n",
             "| run | p50 µs | p99 µs | p99.9 µs |", "|---|---:|---:|---:|"]
    lines += [f"| {r[0]} | {r[1]:.0f} | {r[2]:.0f} | {r[3]:.0f} |" for r in rows]
    on = np.mean([r[2] for r in rows if r[0] == "synchrony on"])
    off = [r[2] for r in rows if r[0] == "synchrony off"][0]
    on5 = np.mean([r[2] for r in rows if r[0] == "after 5 min, synchrony on (CPU)"])
    off5 = [r[2] for r in rows if r[0] == "after 5 min, synchrony off (CPU)"][0]
    lines += ["", f"p99 with synchrony / without: {on / off:.2f} (after 5 minutes: "
              f"{on5 / off5:.2f}).\n",
              "| session test | wall time |", "|---|---:|",
              f"| `Session.session_synchrony()`, 4 features, 150 s session | {1000 * t80:.0f} ms |"]
    for minutes in (5, 20):
        n = minutes * 600
        tt = {"pooled": 0.0, "windows": 0.0}
        for f in FEATURES:
            a, b, raw1, raw2 = series[f]
            rep = -(-n // len(a))
            aa, bb = np.tile(a, rep)[:n], np.tile(b, rep)[:n]
            r1, r2 = ((np.tile(raw1, rep)[:n], np.tile(raw2, rep)[:n]) if raw2 is not None
                      else (None, None))
            for stat in tt:
                t0 = time.perf_counter()
                session_test(aa, bb, SyncConfig(), feature=f, raw2=r2, raw1=r1, statistic=stat)
                tt[stat] += time.perf_counter() - t0
        lines.append(f"| `session_test`, 4 features, {minutes} min | {1000 * tt['pooled']:.0f} ms |")
        lines.append(f"| the same, the earlier statistic (`statistic=\"windows\"`), {minutes} min "
                     f"| {1000 * tt['windows']:.0f} ms |")
    lines.append("\nSession p-values of the 150 s loop (a loop repeats itself: not a null): "
                 + ", ".join(
        f"{f} {v.p:.2f}" if v.p == v.p else f"{f} n/a ({v.reason})" for f, v in res.items()) + "\n")
    print("\n".join(lines))
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
