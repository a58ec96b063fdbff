"""What prosync's voicing errors on the ARCTIC EGG speakers are (clean speech).

Run: ``python bench/pitch_worst_frames.py`` (a few seconds). For every frame where prosync says
voiced and the EGG reference says unvoiced, the gap between the glottal closures around it: a
gap under 40 ms means the EGG saw closures but slower than the 20 ms voicing limit (creak, or a
closure the detector missed); 40 ms or more (or no closure at all) means the EGG saw no vocal-fold
contact there while the audio was periodic. Also the median F0 of those frames (prosync's) and
of the missed voiced frames (the reference's), and how many of the false-voiced frames Praat ac,
RAPT and REAPER (which finds its own closures in the audio) also call voiced: where they all do,
the reference more likely missed the closures; where none does, the error is prosync's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pitch_data as pdata  # noqa: E402
from _shared import shared_data  # noqa: E402
from bench_pitch_robust import (  # noqa: E402
    PEERS,
    SR,
    Cache,
    available_peers,
    run_prosync,
    sample_nearest,
)

CHECK = ("Praat ac", "RAPT", "REAPER")


def main():
    data = shared_data()
    items = [i for i in pdata.load_truth(data, 8) if i["dataset"] == "ARCTIC"]
    peers, _ = available_peers(CHECK)
    cache = Cache(True)
    print("| speaker | false voiced | their F0 (median, Hz) | closures < 40 ms apart | "
          "no closure within 40 ms | missed voiced | their reference F0 (median, Hz) | "
          + " | ".join(f"also voiced by {p}" for p in peers) + " | by all of them | by none |")
    print("|---|---|---|---|---|---|---|" + "---|" * (len(peers) + 2))
    for spk in pdata.SPEAKERS["ARCTIC"]:
        fv, gaps, mv, pv = [], [], [], []
        for it in (i for i in items if i["speaker"] == spk):
            t, f = run_prosync(it["x16"], SR)
            est, ref = sample_nearest(t, f, it["ref_t"]), it["ref_f0"]
            gci = np.loadtxt(data / "arctic_egg_gci" / f"{it['name']}.pm", usecols=0, ndmin=1)
            fj = np.flatnonzero((ref == 0) & (est > 0))
            pv.append(np.array([
                sample_nearest(*cache.get(p, "clean", it["name"], PEERS[p], it["x16"], SR),
                               it["ref_t"][fj]) > 0 for p in peers]).reshape(len(peers), -1))
            for j in fj:
                k = np.searchsorted(gci, it["ref_t"][j])
                gaps.append(gci[k] - gci[k - 1] if 0 < k < len(gci) else np.inf)
                fv.append(est[j])
            mv += list(ref[(ref > 0) & (est == 0)])
        gaps = np.array(gaps)
        pv = np.concatenate(pv, axis=1)
        print(f"| {spk} | {len(fv)} | {np.median(fv) if fv else 0:.0f} | {(gaps < 0.04).sum()} | "
              f"{(gaps >= 0.04).sum()} | {len(mv)} | {np.median(mv) if mv else 0:.0f} | "
              + " | ".join(str(int(v)) for v in pv.sum(1))
              + f" | {int(pv.all(0).sum())} | {int((~pv).all(0).sum())} |")


if __name__ == "__main__":
    main()
