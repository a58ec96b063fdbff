"""Does a channel's band show in the speech? Offline, per speaker and condition (Session 12).

For every truth file of ``bench_pitch_robust.py`` under every condition (8 kHz conditions
resampled to 16 kHz by the engine's own resampler, as a ``Session`` would), the energy of each
25 ms frame (10 ms hop) in a band relative to its 0.3-3.4 kHz energy (dB), over the speaker's
speech frames: those within ``uv_knee_db`` of the speaker's level (the ``level_q`` quantile of the
0.3-3.4 kHz energy of the reference's voiced frames, tracked causally in steps of
``level_step_db`` as the tracker does). Bands:

- ``hi34``: 3.4-3.8 kHz (FFT), the top of the telephone band that an 8 kHz stream still carries;
- ``hp44``: above 4.4 kHz (31-tap Hamming high-pass, every second sample): what an 8 kHz stream
  cannot carry (the engine's 8 -> 16 kHz resampler stops from 4.4 kHz);
- ``lo250``: 60-250 Hz (FFT), what the telephone's 300 Hz high-pass removes.

Printed per condition and speaker: the median over the speaker's files of each file's median
(the statistic's value once it has settled), and the range over the speaker's files of a causal
running median (steps of ``--step`` dB per speech frame) after the first third of each file's
speech frames (what a running gate would read). Separation = no speaker's wideband value
inside the narrowband conditions' range.

Run: ``nice -n 5 python bench/pitch_band_signature.py [--bands hp44,hi34,lo250] [--step 1]``
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pitch_data as pdata  # noqa: E402
from _shared import shared_data  # noqa: E402

N, H = 400, 160
NARROW = ("telephone", "8k", "opus")


def band_series(x):
    """``{band: dB per frame}`` of a 16 kHz signal; ``mid`` is the 0.3-3.4 kHz energy."""
    x = np.asarray(x, np.float64)
    nf = (len(x) - N) // H
    win = np.hanning(N)
    fr = np.lib.stride_tricks.sliding_window_view(x, N)[::H][:nf] * win
    # one-sided power in mean-square units (Parseval), comparable with the high-pass's mean square
    p = np.abs(np.fft.rfft(fr, axis=1)) ** 2 * (2.0 / (N * np.sum(win ** 2)))
    f = np.fft.rfftfreq(N, 1 / pdata.SR)

    def fft_band(lo, hi):
        return 10 * np.log10(p[:, (f >= lo) & (f < hi)].sum(1) + 1e-12)

    g = signal.firwin(31, 4400, fs=pdata.SR, pass_zero=False)
    hp = np.convolve(x, g, "same")[::2]
    w = np.lib.stride_tricks.sliding_window_view(hp, N // 2)[::H // 2][:nf]
    return {"mid": fft_band(300, 3400), "hi34": fft_band(3400, 3800), "lo250": fft_band(60, 250),
            "hp44": 10 * np.log10((w ** 2).mean(1) + 1e-12)}


def speech_stats(e, voiced, band, step, prm):
    """(median over speech frames, running medians after the first third of them)."""
    d = e[band] - e["mid"]
    lev = None
    st = None
    run, keep = [], []
    for i in range(len(d)):
        if voiced[i]:
            lev = e["mid"][i] if lev is None else lev + prm["level_step_db"] * (
                prm["level_q"] - (e["mid"][i] < lev))
        if lev is None or e["mid"][i] < lev - prm["uv_knee_db"]:
            continue
        st = d[i] if st is None else st + step * (0.5 - (d[i] < st))
        run.append(st)
        keep.append(i)
    run = np.array(run)
    return float(np.median(d[keep])), run[len(run) // 3:]


def main(argv=None):
    from prosync.engine.pitch import PARAMS
    from prosync.engine.resample import resampler

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bands", default="hp44,hi34,lo250")
    ap.add_argument("--step", type=float, default=1.0)
    ap.add_argument("--per-speaker", type=int, default=8)
    a = ap.parse_args(argv)
    bands = a.bands.split(",")
    data = shared_data()
    items = pdata.load_truth(data, a.per_speaker)
    conds = pdata.conditions(pdata.opus_ok())
    med = defaultdict(list)
    run = defaultdict(list)
    for it in items:
        for c in conds:
            x, sr = pdata.degrade(it, c, items, data / "spear")
            if sr != pdata.SR:
                x = resampler(sr).resample_chunk(np.asarray(x, np.float32), last=True)
            e = band_series(x)
            nf = len(e["mid"])
            t = (np.arange(nf) * H + N / 2) / pdata.SR
            voiced = np.interp(t, it["ref_t"], (it["ref_f0"] > 0).astype(float)) > 0.5
            for b in bands:
                m, r = speech_stats(e, voiced, b, a.step, PARAMS)
                med[(b, c, it["speaker"])].append(m)
                run[(b, c, it["speaker"])].append(r)
    spks = [s for ss in pdata.SPEAKERS.values() for s in ss]
    for b in bands:
        print(f"\n### {b} relative to 0.3-3.4 kHz, speech frames (dB): median of the files' medians"
              f" | running median (step {a.step} dB) after its first third, min..max over files\n")
        print("| condition | " + " | ".join(spks) + " | running, all speakers |")
        print("|---|" + "---|" * (len(spks) + 1))
        lo_hi = {}
        for c in conds:
            cells = [f"{np.median(med[(b, c, s)]):.1f}" for s in spks]
            rr = np.concatenate([np.concatenate(run[(b, c, s)]) for s in spks])
            lo_hi[c] = (rr.min(), rr.max(), min(np.median(med[(b, c, s)]) for s in spks),
                        max(np.median(med[(b, c, s)]) for s in spks))
            print(f"| {c} | " + " | ".join(cells) + f" | {rr.min():.0f} .. {rr.max():.0f} |")
        wide = [c for c in conds if c not in NARROW]
        tel = lo_hi["telephone"]
        print(f"\ntelephone: speaker medians {tel[2]:.1f} .. {tel[3]:.1f}, running {tel[0]:.0f} .. "
              f"{tel[1]:.0f}; wideband conditions: speaker medians "
              f"{min(lo_hi[c][2] for c in wide):.1f} .. {max(lo_hi[c][3] for c in wide):.1f}, "
              f"running {min(lo_hi[c][0] for c in wide):.0f} .. {max(lo_hi[c][1] for c in wide):.0f}")


if __name__ == "__main__":
    main()
