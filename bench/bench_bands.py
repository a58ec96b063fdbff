"""CPU of the VAD's band energies against the broadband frame energy and scipy, in one run.

    python bench/bench_bands.py [--seconds 20] [--reps 12]

The kernel the VAD decides on (:func:`prosync.native.bands.band_snr_energy`, five band-passes
from 150 Hz as the default ``VadConfig`` builds them, each against its own noise floor) over
white noise at 16 kHz, called 1 and 50 frames at a time (a live push and a file's block), against
in the same process, alternated:

* the broadband frame energy (:func:`prosync.native.frames.frame_energy_db`, what
  ``vad.band_count = 1, vad.band_lo_hz = 0`` runs);
* scipy: the same five filters by ``scipy.signal.sosfilt`` over the whole signal at once, then
  each frame's sums of squares (no floors: a lower bound on what a library call costs).

Thread CPU time, the minimum over ``--reps`` repetitions (the first left out: compilation).
Writes ``bench/results/bands.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for _shared
from _shared import write_section  # noqa: E402

from prosync.engine.config import VadConfig  # noqa: E402
from prosync.engine.speaker import BAND_CHUNK, band_sos  # noqa: E402
from prosync.native.bands import band_snr_energy, band_state  # noqa: E402
from prosync.native.frames import frame_energy_db  # noqa: E402

SR, HOP, WIN, BLK, PAD = 16000, 160, 400, 40, 200


def run_bands(x, nf, per, sos):
    z, buf, ring, bst, floors = band_state(sos.shape[0], BAND_CHUNK, BLK, WIN)
    out = np.zeros(nf)
    t = time.thread_time_ns()
    for k0 in range(0, nf, per):
        band_snr_energy(x, PAD + k0 * HOP + HOP // 2, min(per, nf - k0), k0, HOP, WIN, BLK, sos,
                        z, buf, ring, bst, floors, 0.1, 0.1, out[k0:])
    return time.thread_time_ns() - t


def run_broadband(x, nf, per, sos):
    out = np.zeros(nf)
    t = time.thread_time_ns()
    for k0 in range(0, nf, per):
        frame_energy_db(x, PAD + k0 * HOP + HOP // 2, min(per, nf - k0), HOP, WIN, out[k0:])
    return time.thread_time_ns() - t


def run_scipy(x, nf, per, sos):
    t = time.thread_time_ns()
    sq = np.stack([sosfilt(s, x) ** 2 for s in sos])
    c = np.cumsum(sq, axis=1)
    starts = PAD + np.arange(nf) * HOP + HOP // 2 - WIN // 2
    _ = 10.0 * np.log10(np.maximum((c[:, starts + WIN] - c[:, starts]) / WIN, 1e-12))
    return time.thread_time_ns() - t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--reps", type=int, default=12)
    args = ap.parse_args(argv)
    vad = VadConfig()
    sos = band_sos(vad.band_lo_hz, 0.0, vad.band_count)
    nf = int(args.seconds * SR) // HOP
    x = (np.random.default_rng(0).standard_normal(nf * HOP + 4 * WIN) * 0.1).astype(np.float32)
    x[:PAD] = 0
    runs = [("band energies (native/bands.py)", run_bands, (1, 50)),
            ("broadband frame energy (native/frames.py)", run_broadband, (1, 50)),
            ("scipy sosfilt, whole signal", run_scipy, (None,))]
    res: dict = {}
    for _ in range(args.reps):
        for name, fn, pers in runs:
            for per in pers:
                res.setdefault((name, per), []).append(fn(x, nf, per or nf, sos))
    best = {k: min(v[1:]) / nf / 1000.0 for k, v in res.items()}  # µs per frame
    lines = ["# The VAD's band energies: CPU per frame", "",
             f"`python bench/bench_bands.py --seconds {args.seconds:g} --reps {args.reps}`: "
             f"{vad.band_count} bands from {vad.band_lo_hz:g} Hz, {nf} frames of white noise at "
             f"{SR} Hz (hop {HOP}, window {WIN}); thread CPU, minimum of {args.reps - 1} "
             "repetitions after the first, alternated in one process.", "",
             "| what | frames per call | µs per frame | × broadband at the same call size |",
             "|---|---|---|---|"]
    for name, _, pers in runs:
        for per in pers:
            ref = best[(runs[1][0], per)] if per else best[(runs[1][0], 50)]
            lines.append(f"| {name} | {per or 'all'} | {best[(name, per)]:.2f} | "
                         f"{best[(name, per)] / ref:.2f} |")
    write_section("bands", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
