"""What prosync's errors are, speaker by speaker (held-out constants), clean or in a condition.

Run: ``python bench/pitch_worst_frames.py [--speakers PTDB/M01,ARCTIC/jmk] [--cond babble10]
[--list 15]``
(under a minute; peers' contours come from ``bench_pitch_robust.py``'s cache, computed if absent).

Every prosync error on the files (8 per speaker, as the bench; clean unless ``--cond``) is one
of: missed voiced, false voiced, gross F0 error (> 20 %). Each is described by

- where it is: *onset* (within the first 3 reference frames of a voiced stretch), *offset*
  (within its last 3), *inside*; for false voicing, *before an onset* / *after an offset*
  (within 3 frames of a voiced stretch) or *apart*;
- its level: the frame's RMS (25 ms) in dB against the speaker's level (the median RMS of the
  file's reference-voiced frames), both of the audio as the tracker got it (noise included);
- the reference's F0 and whether it is irregular there (consecutive reference F0s more than 15 %
  apart within +-2 frames: creak, diplophonia or a closure the EGG detector missed);
- whether Praat ac, RAPT and REAPER (which finds its own closures in the audio) agree with the
  reference or with prosync on that frame: where all three side with prosync, the reference
  more likely erred;
- for the ARCTIC EGG speakers, the gap between the glottal closures around a false-voiced frame:
  under 40 ms the EGG saw closures slower than the 20 ms voicing limit (creak, a missed
  closure); 40 ms or more, no vocal-fold contact while the audio was periodic.

Prints a table of counts per speaker and kind, and with ``--list N`` the ``N`` longest error
runs of each speaker (file, time, kind, level, F0s, peers).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pitch_data as pdata  # noqa: E402
from _shared import ROOT, shared_data  # noqa: E402
from bench_pitch_robust import (  # noqa: E402
    PEERS,
    SR,
    Cache,
    _to16,
    available_peers,
    prosync_folds,
    run_prosync,
    sample_nearest,
)

CHECK = ("Praat ac", "RAPT", "REAPER")
EDGE = 3


def frame_db(x, t, win=0.025):
    h = int(win * SR / 2)
    out = np.full(len(t), -120.0)
    for j, tj in enumerate(t):
        c = int(round(tj * SR))
        seg = x[max(0, c - h):c + h].astype(np.float64)
        if len(seg):
            out[j] = 10 * np.log10(np.mean(seg ** 2) + 1e-12)
    return out


def positions(rv):
    """Per frame: 'onset'/'offset'/'inside' for voiced, 'before onset'/'after offset'/'apart'
    for unvoiced reference frames."""
    n = len(rv)
    pos = np.empty(n, dtype=object)
    starts = [j for j in range(n) if rv[j] and (j == 0 or not rv[j - 1])]
    ends = [j for j in range(n) if rv[j] and (j == n - 1 or not rv[j + 1])]
    for j in range(n):
        if rv[j]:
            s = max(a for a in starts if a <= j)
            e = min(b for b in ends if b >= j)
            pos[j] = "onset" if j - s < EDGE else "offset" if e - j < EDGE else "inside"
        else:
            nxt = [a for a in starts if a > j]
            prv = [b for b in ends if b < j]
            if nxt and nxt[0] - j <= EDGE:
                pos[j] = "before onset"
            elif prv and j - prv[-1] <= EDGE:
                pos[j] = "after offset"
            else:
                pos[j] = "apart"
    return pos


def irregular(ref, j):
    seg = ref[max(0, j - 2):j + 3]
    seg = seg[seg > 0]
    return len(seg) >= 2 and np.max(np.abs(np.diff(np.log(seg)))) > np.log(1.15)


def describe(it, est, peers_f0, gci):
    """Rows ``(j, kind, position, level dB, ref F0, est F0, irregular, peers-with-prosync, gap)``."""
    ref = it["ref_f0"]
    rv, ev = ref > 0, est > 0
    pos = positions(rv)
    db = frame_db(it["x16"], it["ref_t"])
    lev = np.median(db[rv]) if rv.any() else 0.0
    rows = []
    for j in range(len(ref)):
        if rv[j] and not ev[j]:
            kind = "missed voiced"
            side = [not (pf[j] > 0) for pf in peers_f0]
        elif ev[j] and not rv[j]:
            kind = "false voiced"
            side = [pf[j] > 0 for pf in peers_f0]
        elif rv[j] and abs(est[j] / ref[j] - 1) > 0.2:
            r = est[j] / ref[j]
            kind = "octave down" if r < 0.65 else "octave up" if r > 1.6 else "other gross"
            side = [pf[j] > 0 and abs(pf[j] / est[j] - 1) <= 0.2 for pf in peers_f0]
        else:
            continue
        gap = np.nan
        if gci is not None and kind == "false voiced":
            k = np.searchsorted(gci, it["ref_t"][j])
            gap = gci[k] - gci[k - 1] if 0 < k < len(gci) else np.inf
        rows.append((j, kind, pos[j], db[j] - lev, ref[j], est[j], irregular(ref, j),
                     sum(side), gap))
    return rows


def runs(rows):
    """Group consecutive frames of one kind: ``[(first row, length)]``, longest first."""
    out, cur = [], []
    for r in rows:
        if cur and r[0] == cur[-1][0] + 1 and r[1] == cur[-1][1]:
            cur.append(r)
        else:
            if cur:
                out.append(cur)
            cur = [r]
    if cur:
        out.append(cur)
    return sorted(out, key=len, reverse=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speakers", default="PTDB/M01,ARCTIC/jmk,ARCTIC/ksp",
                    help="comma-separated dataset/speaker (default: those behind Praat ac)")
    ap.add_argument("--list", type=int, default=0, help="longest error runs to list per speaker")
    ap.add_argument("--cond", default="clean",
                    help="a condition of bench_pitch_robust.py (default clean)")
    ap.add_argument("--folds", choices=("speaker", "none"), default="speaker",
                    help="prosync's constants: tuned without the speaker (default) or shipped")
    args = ap.parse_args(argv)
    data = shared_data()
    want = [tuple(s.split("/")) for s in args.speakers.split(",") if s]
    pool = pdata.load_truth(data, 8)
    items = [i for i in pool if (i["dataset"], i["speaker"]) in want]
    models = prosync_folds(args.folds, ROOT / "bench" / "results" / "pitch_folds.json")
    peers, _ = available_peers(CHECK)
    cache = Cache(True)
    n_p = len(peers)
    hdr = ("| speaker | kind | position | frames | median level dB | median ref F0 | "
           f"ref irregular | peers with prosync (0-{n_p}): 0 / {n_p} | EGG gap < 40 ms / >= 40 ms |")
    table, listing = [hdr, "|---|---|---|---|---|---|---|---|---|"], []
    kinds = ("missed voiced", "false voiced", "gross")
    poss = {"missed voiced": ("onset", "inside", "offset"),
            "false voiced": ("before onset", "after offset", "apart"), "gross": ("-",)}
    cols = [(k, q) for k in kinds for q in poss[k]]
    vs = ["", f"prosync / Praat ac, frames of each kind ({args.cond}):", "",
          "| speaker | frames | " + " | ".join(f"{k}, {q}" if q != "-" else k for k, q in cols)
          + " |", "|---|---|" + "---|" * len(cols)]
    for ds, spk in want:
        rows, praat_rows, n_frames = [], [], 0
        for it in (i for i in items if (i["dataset"], i["speaker"]) == (ds, spk)):
            x, sr = pdata.degrade(it, args.cond, pool, data / "spear")
            t, f = run_prosync(x, sr, models.get((ds, spk)))
            est = sample_nearest(t, f, it["ref_t"])
            pf = [sample_nearest(*cache.get(p, args.cond, it["name"], PEERS[p], x, sr),
                                 it["ref_t"]) for p in peers]
            gci = None
            if ds == "ARCTIC":
                gci = np.loadtxt(data / "arctic_egg_gci" / f"{it['name']}.pm", usecols=0,
                                 ndmin=1)
            rs = describe(dict(it, x16=_to16(x, sr)), est, pf, gci)
            rows += [(it["name"], it["ref_t"][r[0]]) + r for r in rs]
            n_frames += len(it["ref_f0"])
            if "Praat ac" in peers:
                praat_rows += describe(dict(it, x16=_to16(x, sr)), pf[peers.index("Praat ac")],
                                       [], None)
        groups = Counter((r[3], r[4] if r[3] in ("missed voiced", "false voiced") else "-")
                         for r in rows)
        for (kind, pos), n in sorted(groups.items(), key=lambda kv: -kv[1]):
            sel = [r for r in rows if r[3] == kind and (pos == "-" or r[4] == pos)]
            lv = np.median([r[5] for r in sel])
            rf = [r[6] for r in sel if r[6] > 0]
            irr = sum(r[8] for r in sel)
            pw = [r[9] for r in sel]
            gaps = np.array([r[10] for r in sel])
            g = (f"{int((gaps < 0.04).sum())} / {int((gaps >= 0.04).sum())}"
                 if ds == "ARCTIC" and kind == "false voiced" else "-")
            table.append(f"| {ds} {spk} | {kind} | {pos} | {n} | {lv:.1f} | "
                         f"{np.median(rf) if rf else 0:.0f} | {irr} | "
                         f"{pw.count(0)} / {pw.count(n_p)} | {g} |")
        def by_kind(rr, k, q):
            if k == "gross":
                return sum(r[1] not in ("missed voiced", "false voiced") for r in rr)
            return sum(r[1] == k and r[2] == q for r in rr)

        vs.append(f"| {ds} {spk} | {n_frames} | " + " | ".join(
            f"{by_kind([r[2:] for r in rows], k, q)} / {by_kind(praat_rows, k, q)}"
            for k, q in cols) + " |")
        if args.list:
            listing.append(f"\n{ds} {spk}: longest error runs (file, start s, frames, kind, "
                           "position, level dB, ref F0, prosync F0, irregular, peers with prosync)")
            per_file = {}
            for r in rows:
                per_file.setdefault(r[0], []).append(r[2:])
            allruns = [(name, run) for name, rr in per_file.items() for run in runs(rr)]
            allruns.sort(key=lambda nr: -len(nr[1]))
            for name, run in allruns[:args.list]:
                a = run[0]
                t0 = [i for i in items if i["name"] == name][0]["ref_t"][a[0]]
                listing.append(
                    f"  {name} {t0:.2f} s x{len(run)} {a[1]} ({a[2]}), "
                    f"{np.median([r[3] for r in run]):.1f} dB, ref "
                    f"{np.median([r[4] for r in run]):.0f} Hz, prosync "
                    f"{np.median([r[5] for r in run]):.0f} Hz, irregular "
                    f"{sum(r[6] for r in run)}, peers {np.median([r[7] for r in run]):.0f}")
    print("\n".join(table + vs + listing))


if __name__ == "__main__":
    main()
