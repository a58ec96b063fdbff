"""Pitch and voicing robustness: every tracker on every dataset and condition in one run.

Run: ``nice -n 5 python bench/bench_pitch_robust.py`` (``--dev`` for a small subsample while
developing). Peers' contours are cached under ``bench/.cache/pitch_robust/`` (gitignored) so that a
rerun only recomputes prosync; ``--no-cache`` recomputes everything.

Trackers: prosync through its public API exactly as a ``Session`` runs it (one speaker, 100 ms
blocks, at the input's own sample rate); Praat ``to_pitch_ac`` and ``to_pitch_cc``
(parselmouth), RAPT (pysptk), REAPER (pyreaper), WORLD harvest (pyworld), pYIN (librosa), and
PESTO (pesto-pitch, a small CPU neural tracker); REAPER and PESTO come with the ``peers`` extra
and are skipped with a note when absent. All search 60-500 Hz at a
10 ms step. Peers get 16 kHz audio (the telephone condition upsampled back from 8 kHz); prosync
gets the telephone condition at 8 kHz, as a phone recording would arrive.

Truth sets and conditions: see ``pitch_data.py``. When ``bench/results/pitch_folds.json`` exists
(the tracker's constants tuned with speakers held out by ``pitch_sim.py``), every prosync figure
on FDA, PTDB or ARCTIC comes from the constants tuned without that speaker (``--folds dataset``:
without its dataset; ``--folds none``: the shipped ones, tuned on all); NOIZEUS and SpEAR were
never tuned on, they get the shipped constants.

Metrics (pooled over reference frames; nearest tracker frame at each reference time):
GPE = gross errors (> 20 %) over frames voiced in both; VDE = voicing disagreements over all
frames. Noisy files with a clean twin (NOIZEUS, SpEAR re-recordings) are scored against the
tracker's own output on the clean twin and against Praat ac on the clean twin.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pitch_data as pdata  # noqa: E402
from _shared import ROOT, shared_data  # noqa: E402

SR = pdata.SR
HOP = 160
BLOCK_S = 0.1
FLOOR, CEIL = 60.0, 500.0
CACHE = ROOT / "bench" / ".cache" / "pitch_robust"
#: prosync on the same audio resampled to 16 kHz before the Session, where the condition's
#: audio is at 8 kHz (telephone, 8k, NOIZEUS): the 8 kHz input path against the 16 kHz one.
AT16 = "prosync (8 kHz audio given at 16 kHz)"
READING = ROOT / "bench" / "results" / "pitch_robust_reading.md"  # hand-written


# ---------------------------------------------------------------- trackers: (x, sr) -> (t, f0)

def run_prosync(x, sr, params=None):
    import prosync
    from prosync.engine import pitch as ep

    old = ep.PARAMS
    if params is not None:
        ep.PARAMS = params
    try:
        s = prosync.Session(speakers=("a",), sample_rate=sr)
        blk = int(BLOCK_S * sr)
        parts = [s.push("a", x[i:i + blk]).frames for i in range(0, len(x), blk)]
        parts.append(s.close().frames)
    finally:
        ep.PARAMS = old
    f0 = np.concatenate([p["a"]["f0_hz"] for p in parts if "a" in p])
    t = np.concatenate([p["a"]["t_s"] for p in parts if "a" in p])
    return t, f0


def _to16(x, sr):
    return x if sr == SR else soxr.resample(x, sr, SR, quality="HQ").astype(np.float32)


def run_praat_ac(x, sr):
    import parselmouth

    p = parselmouth.Sound(_to16(x, sr).astype(np.float64), SR).to_pitch_ac(
        time_step=0.01, pitch_floor=FLOOR, pitch_ceiling=CEIL)
    return p.xs(), p.selected_array["frequency"]


def run_praat_cc(x, sr):
    import parselmouth

    p = parselmouth.Sound(_to16(x, sr).astype(np.float64), SR).to_pitch_cc(
        time_step=0.01, pitch_floor=FLOOR, pitch_ceiling=CEIL)
    return p.xs(), p.selected_array["frequency"]


def run_rapt(x, sr):
    import pysptk

    f0 = pysptk.sptk.rapt(_to16(x, sr) * np.float32(32768.0), SR, HOP, min=FLOOR, max=CEIL,
                          otype="f0")
    return np.arange(len(f0)) * (HOP / SR), f0


def run_reaper(x, sr):
    import pyreaper

    pcm = np.clip(_to16(x, sr) * 32768.0, -32768, 32767).astype(np.int16)
    _, _, t, f0, _ = pyreaper.reaper(pcm, SR, minf0=FLOOR, maxf0=CEIL, frame_period=0.01)
    return t, np.where(f0 > 0, f0, 0.0)


def run_harvest(x, sr):
    import pyworld

    f0, t = pyworld.harvest(_to16(x, sr).astype(np.float64), SR, f0_floor=FLOOR, f0_ceil=CEIL,
                            frame_period=10.0)
    return t, f0


def run_pyin(x, sr):
    import librosa

    f0, _, _ = librosa.pyin(_to16(x, sr), fmin=FLOOR, fmax=CEIL, sr=SR, frame_length=1024,
                            hop_length=HOP)
    return np.arange(len(f0)) * (HOP / SR), f0


def _pesto():
    """``pesto``, importable without torchaudio: pesto's ``core`` imports torchaudio only to read
    audio files, which this bench never asks it to do, and a CPU-only torch (the wheel installed
    here) has no torchaudio wheel that loads with it (PyPI's is built against CUDA torch)."""
    try:
        import torchaudio  # noqa: F401
    except Exception:  # noqa: BLE001 - absent or built for another torch
        import types

        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    import pesto

    return pesto


def run_pesto(x, sr):
    import torch

    pesto = _pesto()

    torch.set_num_threads(1)
    t, f0, conf, _ = pesto.predict(torch.from_numpy(_to16(x, sr)), SR, step_size=10.0,
                                   convert_to_freq=True)
    f0 = f0.numpy().astype(np.float64)
    f0[(conf.numpy() < 0.5) | (f0 < FLOOR) | (f0 > CEIL)] = 0.0
    return t.numpy() / 1000.0 if t.numpy().max() > 100 else t.numpy(), f0


PEERS = {
    "Praat ac": run_praat_ac, "Praat cc": run_praat_cc, "RAPT": run_rapt,
    "REAPER": run_reaper, "harvest": run_harvest, "pYIN": run_pyin, "PESTO": run_pesto,
}
#: Slow peers (pYIN, harvest, PESTO: 0.1-0.2 x real time alone, several times that on a busy
#: machine) run on these conditions only, and on the 5 and 15 dB NOIZEUS files and SpEAR's
#: re-recordings.
SLOW = ("harvest", "pYIN", "PESTO")
SLOW_CONDS = ("clean", "white20", "white5", "pink10", "f16_10", "factory_5", "babble10",
              "telephone", "reverb", "opus")
PEER_MODULES = {"Praat ac": "parselmouth", "Praat cc": "parselmouth", "RAPT": "pysptk",
                "REAPER": "pyreaper", "harvest": "pyworld", "pYIN": "librosa", "PESTO": "pesto"}


#: NOIZEUS SNRs (dB) the slow peers run on (they run on every SpEAR re-recording).
SLOW_SNRS = ("5", "15")


def _snr(cond):
    return cond[len(cond.rstrip("0123456789")):]


def available_peers(names):
    """(peers that import, [(peer, why not)]): a peer whose module is absent or fails to import
    (PESTO without torch or torchaudio) is skipped with the reason."""
    import importlib

    ok, missing = [], []
    for n in names:
        try:
            _pesto() if n == "PESTO" else importlib.import_module(PEER_MODULES[n])
        except Exception as exc:  # noqa: BLE001 - any import failure means: skip this peer
            missing.append((n, f"{type(exc).__name__}: {exc}"))
        else:
            ok.append(n)
    return ok, missing


# ---------------------------------------------------------------- scoring

def sample_nearest(t_est, f0_est, t_ref):
    f0 = np.nan_to_num(np.asarray(f0_est, dtype=np.float64), nan=0.0)
    t_est = np.asarray(t_est, dtype=np.float64)
    if len(t_est) < 2:
        return np.zeros(len(t_ref))
    j = np.clip(np.searchsorted(t_est, t_ref), 1, len(t_est) - 1)
    left = (t_ref - t_est[j - 1]) <= (t_est[j] - t_ref)
    return f0[np.where(left, j - 1, j)]


def counts(est, ref):
    """[gross errors, frames voiced in both, voicing disagreements, reference frames]."""
    rv, ev = ref > 0, est > 0
    both = rv & ev
    gross = np.abs(est[both] / ref[both] - 1.0) > 0.2
    return np.array([gross.sum(), both.sum(), (rv != ev).sum(), len(ref)], dtype=np.int64)


#: Kinds of prosync's errors (clean condition) for the worst-frame look per speaker.
ERROR_KINDS = ("missed voiced, at an edge", "missed voiced, inside", "false voiced, at an edge",
               "false voiced, inside", "octave down", "octave up", "other gross")


def error_kinds(est, ref):
    """Counts of ``ERROR_KINDS``; 'at an edge' = within 2 reference frames of a voicing change."""
    rv, ev = ref > 0, est > 0
    edge = np.zeros(len(ref), bool)
    for j in np.flatnonzero(np.diff(rv.astype(np.int8)) != 0):
        edge[max(0, j - 1):j + 3] = True
    both = rv & ev
    r = np.where(both, est / np.where(rv, ref, 1.0), 1.0)
    gross = both & (np.abs(r - 1) > 0.2)
    return np.array([(rv & ~ev & edge).sum(), (rv & ~ev & ~edge).sum(),
                     (~rv & ev & edge).sum(), (~rv & ev & ~edge).sum(),
                     (gross & (r < 0.65)).sum(), (gross & (r > 1.6)).sum(),
                     (gross & (r >= 0.65) & (r <= 1.6)).sum()], dtype=np.int64)


def gpe_vde(c):
    return 100.0 * c[0] / max(c[1], 1), 100.0 * c[2] / max(c[3], 1)


# ---------------------------------------------------------------- the run

class Cache:
    def __init__(self, use: bool):
        self.use = use

    def path(self, tracker, cond, name):
        safe = tracker.replace(" ", "_")
        return CACHE / safe / cond / f"{name}.pkl"

    def get(self, tracker, cond, name, fn, *args):
        """``fn(*args)``, or its cached value for (tracker, condition, file)."""
        p = self.path(tracker, cond, name)
        if self.use and p.exists():
            with open(p, "rb") as fh:
                return pickle.load(fh)
        out = fn(*args)
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as fh:
            pickle.dump(out, fh)
        return out


def prosync_folds(by, path):
    """``{(dataset, speaker): constants}`` tuned without that speaker (``by="speaker"``) or
    without its dataset (``by="dataset"``); ``{}`` (the shipped constants) for ``"none"``."""
    path = Path(path)
    if by == "none" or not path.exists():
        return {}
    folds = json.loads(path.read_text())
    key = (lambda d, s: f"{d}/{s}") if by == "speaker" else (lambda d, s: d)
    return {(d, s): folds[key(d, s)] for d, ss in pdata.SPEAKERS.items() for s in ss
            if key(d, s) in folds}


def truth_run(items, conds, peers, cache, models, data, log):
    """``res[tracker][cond][(dataset, speaker)] = counts``."""
    res = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: np.zeros(4, np.int64))))
    pool = items
    kinds = res["_kinds"] = {}
    for cond in conds:
        t0 = time.perf_counter()
        for it in items:
            x, sr = pdata.degrade(it, cond, pool, data / "spear")
            key = (it["dataset"], it["speaker"])
            t, f = run_prosync(x, sr, models.get(key))
            est = sample_nearest(t, f, it["ref_t"])
            res["prosync"][cond][key] += counts(est, it["ref_f0"])
            if sr != SR:  # the same audio at 16 kHz: does the 8 kHz input path lose anything?
                t, f = run_prosync(_to16(x, sr), SR, models.get(key))
                res[AT16][cond][key] += counts(sample_nearest(t, f, it["ref_t"]), it["ref_f0"])
            if cond == "clean":
                kinds[key] = kinds.get(key, 0) + error_kinds(est, it["ref_f0"])
            for name in peers:
                if name in SLOW and cond not in SLOW_CONDS:
                    continue
                t, f = cache.get(name, cond, it["name"], PEERS[name], x, sr)
                res[name][cond][key] += counts(sample_nearest(t, f, it["ref_t"]), it["ref_f0"])
        log(f"{cond}: {time.perf_counter() - t0:.1f} s")
    return res


def twin_run(pairs, peers, cache, log):
    """``res[tracker][(set, cond)] = [counts vs own clean, counts vs Praat ac clean]``."""
    res = defaultdict(lambda: defaultdict(lambda: np.zeros((2, 4), np.int64)))
    clean_out = {}
    trackers = ["prosync"] + list(peers) + [AT16]

    def out(name, tag, path, x, sr):
        if name == "prosync":
            return run_prosync(x, sr)
        if name == AT16:
            return run_prosync(_to16(x, sr), SR)
        return cache.get(name, tag, path.stem, PEERS[name], x, sr)

    for st, cond, _sent, noisy, clean in pairs:
        xc, src = pdata.read16(clean)
        xn, srn = pdata.read16(noisy)
        shift = pdata.align(xn, xc) if st == "SpEAR" else 0
        for name in trackers:
            if name in SLOW and not (st == "SpEAR" or _snr(cond) in SLOW_SNRS):
                continue
            if name == AT16 and srn == SR:
                continue
            ck = (name, clean)
            if ck not in clean_out:
                clean_out[ck] = out(name, f"{st}-clean", clean, xc, src)
            if ("Praat ac", clean) not in clean_out:
                clean_out[("Praat ac", clean)] = out("Praat ac", f"{st}-clean", clean, xc, src)
            tn, fn = out(name, f"{st}-{cond}", noisy, xn, srn)
            tn = np.asarray(tn) - shift / srn
            for j, ref_name in enumerate((name, "Praat ac")):
                tr, fr = clean_out[(ref_name, clean)]
                fr = np.nan_to_num(np.asarray(fr, np.float64), nan=0.0)
                keep = (tr >= tn[0]) & (tr <= tn[-1])
                res[name][(st, cond)][j] += counts(sample_nearest(tn, fn, tr[keep]), fr[keep])
    log(f"twins: {len(pairs)} noisy files")
    return res


def timing(items, reps=3):
    """Whole Session (prosync) vs Praat to_pitch_ac on the same clean audio, best of ``reps``."""
    xs = [it["x16"] for it in items]
    run_prosync(xs[0][:SR], SR)

    def timed(fn):
        t0 = time.perf_counter()
        for x in xs:
            fn(x, SR)
        return time.perf_counter() - t0

    tp = min(timed(run_praat_ac) for _ in range(reps))
    ts = min(timed(run_prosync) for _ in range(reps))
    return ts, tp, sum(len(x) for x in xs) / SR


# ---------------------------------------------------------------- report

def _agg(per_spk, keys):
    return sum((per_spk[k] for k in keys), np.zeros(4, np.int64))


def report(res, twins, conds, trackers, items, timing_row, notes, folds):
    spk_keys = sorted({(it["dataset"], it["speaker"]) for it in items},
                      key=lambda k: (list(pdata.SPEAKERS).index(k[0]), k[1]))
    dsets = [d for d in pdata.SPEAKERS if any(k[0] == d for k in spk_keys)]
    frames = {d: int(_agg(res[trackers[0]]["clean"], [k for k in spk_keys if k[0] == d])[3])
              for d in dsets}
    fold = {"speaker": "each speaker scored with the constants tuned without that speaker "
                       "(leave one speaker out)",
            "dataset": "each dataset scored with the constants tuned without that dataset "
                       "(leave one dataset out)"}.get(folds, "its shipped constants, in-sample")
    L = ["# Pitch and voicing robustness (`python bench/bench_pitch_robust.py`)", "",
         f"Pitch robustness ({len(items)} files with laryngograph/EGG truth; reference frames per "
         f"condition: " + ", ".join(f"{d} {n}" for d, n in frames.items())
         + f"; prosync: {fold}). GPE % / VDE %, pooled over the dataset's frames.", ""]
    # per dataset x condition
    for d in dsets + ["all"]:
        keys = spk_keys if d == "all" else [k for k in spk_keys if k[0] == d]
        L += [f"### {d}: GPE % / VDE %", "",
              "| condition | " + " | ".join(trackers) + " |",
              "|---|" + "---|" * len(trackers)]
        for c in conds:
            cells = []
            praat = gpe_vde(_agg(res["Praat ac"][c], keys)) if "Praat ac" in res else None
            for tname in trackers:
                if tname in SLOW and c not in SLOW_CONDS:
                    cells.append("-")
                    continue
                g, v = gpe_vde(_agg(res[tname][c], keys))
                mark = ""
                if tname == "prosync" and praat is not None:
                    mark = "" if (g <= praat[0] + 1e-9 and v <= praat[1] + 1e-9) else " *"
                cells.append(f"{g:.2f} / {v:.2f}{mark}")
            L.append(f"| {c} | " + " | ".join(cells) + " |")
        L.append("")
    L.append("`*`: prosync above Praat ac on GPE or VDE in that cell.")
    L.append("")
    # per speaker, clean and mean over conditions
    L += ["### Per speaker: clean, and pooled over all conditions (GPE % / VDE %)", "",
          "| speaker | " + " | ".join(f"{t} clean" for t in trackers[:3]) + " | "
          + " | ".join(f"{t} all" for t in trackers) + " |",
          "|---|" + "---|" * (len(trackers[:3]) + len(trackers))]
    for k in spk_keys:
        cells = [f"{gpe_vde(res[t]['clean'][k])[0]:.2f} / {gpe_vde(res[t]['clean'][k])[1]:.2f}"
                 for t in trackers[:3]]
        for t in trackers:
            cs = [c for c in conds if t not in SLOW or c in SLOW_CONDS]
            g, v = gpe_vde(sum((res[t][c][k] for c in cs), np.zeros(4, np.int64)))
            cells.append(f"{g:.2f} / {v:.2f}")
        L.append(f"| {k[0]} {k[1]} | " + " | ".join(cells) + " |")
    L.append("")
    kinds = res.get("_kinds", {})
    if kinds:
        L += ["### prosync's errors on clean speech, by kind (reference frames)", "",
              "Edge: within 2 reference frames of a reference voicing change. Octave down/up: "
              "estimate/reference below 0.65 or above 1.6.", "",
              "| speaker | " + " | ".join(ERROR_KINDS) + " |", "|---|" + "---|" * len(ERROR_KINDS)]
        for k in spk_keys:
            L.append(f"| {k[0]} {k[1]} | " + " | ".join(str(int(v)) for v in kinds[k]) + " |")
        L.append("")
    L += rate_table(res, twins, conds, spk_keys, dsets)
    if twins:
        L += ["### Noisy recordings against their clean twins (GPE % / VDE %)", "",
              "Left: against the tracker's own output on the clean twin; right: against Praat ac "
              "on the clean twin.", "",
              "| set | condition | " + " | ".join(trackers) + " |",
              "|---|---|" + "---|" * len(trackers)]
        tw_keys = sorted({k for t in twins.values() for k in t})
        for st in sorted({k[0] for k in tw_keys}):
            ks = [k for k in tw_keys if k[0] == st]
            for k in ks + [(st, "all")]:
                cells = []
                for t in trackers:
                    if t in SLOW and k[1] != "all" and k not in twins[t]:
                        cells.append("-")
                        continue
                    c = (sum((twins[t][q] for q in ks), np.zeros((2, 4), np.int64))
                         if k[1] == "all" else twins[t][k])
                    a, b = gpe_vde(c[0]), gpe_vde(c[1])
                    cells.append(f"{a[0]:.1f}/{a[1]:.1f} · {b[0]:.1f}/{b[1]:.1f}")
                L.append(f"| {st} | {k[1]} | " + " | ".join(cells) + " |")
        L.append("")
    if timing_row:
        ts, tp, audio = timing_row
        L += [f"Speed (busy shared 2-core machine; best of 3 over {audio:.0f} s of clean audio): "
              f"whole prosync Session {ts:.2f} s, Praat to_pitch_ac {tp:.2f} s: "
              f"**{ts / tp:.3f} x Praat**.", ""]
    L += [f"- {n}" for n in notes]
    return "\n".join(L) + "\n"


def rate_table(res, twins, conds, spk_keys, dsets):
    """prosync at 8 kHz input against the same audio given at 16 kHz (and the 16 kHz original)."""
    if AT16 not in res:
        return []
    rows = [("clean", "16 kHz original", "prosync")]
    rows += [(c, f"{c} audio at {rate}", name) for c in ("8k", "telephone") if c in conds
             for rate, name in (("8 kHz", "prosync"), ("16 kHz", AT16))]
    L = ["### 8 kHz input against the same audio at 16 kHz (prosync, GPE % / VDE %)", "",
         "`8k`: the 16 kHz file resampled to 8 kHz; `telephone`: 300-3400 Hz and G.711 at 8 kHz. "
         "'at 16 kHz': that 8 kHz audio resampled (soxr HQ) to 16 kHz before the Session; "
         "'at 8 kHz': given to the Session at 8 kHz, as a phone recording arrives.", "",
         "| audio | " + " | ".join(dsets) + " | all |", "|---|" + "---|" * (len(dsets) + 1)]
    for c, label, name in rows:
        cells = []
        for d in dsets + ["all"]:
            keys = spk_keys if d == "all" else [k for k in spk_keys if k[0] == d]
            g, v = gpe_vde(_agg(res[name][c], keys))
            cells.append(f"{g:.2f} / {v:.2f}")
        L.append(f"| {label} | " + " | ".join(cells) + " |")
    if twins and AT16 in twins:
        ks = [k for k in twins[AT16] if k[0] == "NOIZEUS"]
        if ks:
            L += ["", "NOIZEUS (recorded at 8 kHz, telephone band), all noises and SNRs, against "
                  "the tracker's own output on the clean twin · against Praat ac on the clean twin:",
                  ""]
            for label, name in (("at 8 kHz", "prosync"), ("at 16 kHz", AT16)):
                c = sum((twins[name][k] for k in ks), np.zeros((2, 4), np.int64))
                a, b = gpe_vde(c[0]), gpe_vde(c[1])
                L.append(f"- {label}: {a[0]:.2f} / {a[1]:.2f} · {b[0]:.2f} / {b[1]:.2f}")
    return L + [""]


def to_json(res, twins, conds, trackers):
    out = {"truth": {}, "twins": {}, "error_kinds": list(ERROR_KINDS),
           "prosync_clean_errors": {f"{k[0]}/{k[1]}": v.tolist()
                                    for k, v in res.get("_kinds", {}).items()}}
    for t in trackers + ([AT16] if AT16 in res else []):
        out["truth"][t] = {c: {f"{k[0]}/{k[1]}": v.tolist() for k, v in res[t][c].items()}
                           for c in conds}
        if twins and t in twins:
            out["twins"][t] = {f"{k[0]}/{k[1]}": v.tolist() for k, v in twins[t].items()}
    return out


def main(argv=None):
    global SLOW_CONDS, SLOW_SNRS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dev", action="store_true", help="small subsample (development)")
    ap.add_argument("--per-speaker", type=int, default=8,
                    help="files per speaker at most (default 8; 0 = all)")
    ap.add_argument("--conds", help="comma-separated subset of conditions")
    ap.add_argument("--peers", help="comma-separated subset of peers")
    ap.add_argument("--slow-conds", help="comma-separated conditions for harvest, pYIN and PESTO "
                    f"(default: {','.join(SLOW_CONDS)})")
    ap.add_argument("--slow-snrs", help="comma-separated NOIZEUS SNRs for them (default: "
                    f"{','.join(SLOW_SNRS)})")
    ap.add_argument("--no-twins", action="store_true")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--folds-file", default=str(ROOT / "bench" / "results" / "pitch_folds.json"),
                    help="the held-out constants (pitch_sim.py's output)")
    ap.add_argument("--folds", choices=("speaker", "dataset", "none"), default="speaker",
                    help="prosync's constants on the truth sets: tuned without the speaker "
                    "(default), without the dataset, or the shipped ones (none: in-sample)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "pitch_robust.md"))
    args = ap.parse_args(argv)
    if args.slow_conds:
        SLOW_CONDS = tuple(c for c in args.slow_conds.split(",") if c)
    if args.slow_snrs:
        SLOW_SNRS = tuple(c for c in args.slow_snrs.split(",") if c)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data = shared_data()
    t_start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_start:6.0f} s] {msg}", flush=True)

    per = 2 if args.dev else (args.per_speaker or None)
    items = load_items(data, per)
    with_opus = pdata.opus_ok()
    conds = pdata.conditions(with_opus)
    if args.conds:
        conds = [c for c in args.conds.split(",") if c]
    peers, missing = available_peers(args.peers.split(",") if args.peers else list(PEERS))
    notes = [f"{m}: not installed or does not import ({why}), skipped" for m, why in missing]
    for m, why in missing:
        print(f"skipping peer {m}: {why}", flush=True)
    slow = [p for p in SLOW if p in peers]
    if slow:
        notes.append(f"{', '.join(slow)} (slow) ran on {', '.join(SLOW_CONDS)} "
                     "only ('-' elsewhere; their per-speaker 'all' pools those conditions), and on "
                     f"the NOIZEUS {' and '.join(SLOW_SNRS)} dB files and the SpEAR re-recordings")
    if not with_opus:
        notes.append("Opus: this libsndfile cannot write Ogg/Opus, condition skipped")
    cache = Cache(not args.no_cache)
    models = prosync_folds(args.folds, args.folds_file)
    if models:
        notes.append(f"prosync's held-out constants: {Path(args.folds_file).name}")
    if not models and args.folds != "none":
        notes.append(f"{args.folds_file} has no folds by {args.folds} (pitch_sim.py "
                     "makes them; --lodo for datasets): prosync used its shipped constants")
    log(f"{len(items)} files, {len(conds)} conditions, peers: {', '.join(peers)}")
    res = truth_run(items, conds, peers, cache, models, data, log)
    twins = None
    if not args.no_twins:
        sents = ["sp01", "sp06"] if args.dev else ["sp01", "sp06", "sp11", "sp16", "sp21", "sp26"]
        sents = sents[:2] if args.dev else sents
        pairs = pdata.twin_pairs(data, sents, (5, 15) if args.dev else (0, 5, 10, 15))
        if args.dev:
            pairs = [p for p in pairs if p[0] == "NOIZEUS"][:16] + \
                [p for p in pairs if p[0] == "SpEAR"][:6]
        twins = twin_run(pairs, peers, cache, log)
    timing_row = timing(items[:: max(1, len(items) // 20)])
    trackers = ["prosync"] + peers
    text = report(res, twins, conds, trackers, items, timing_row, notes,
                  args.folds if models else "")
    text += f"\nRun: `nice -n 5 python bench/bench_pitch_robust.py {' '.join(argv or sys.argv[1:])}`" \
        f" ({time.perf_counter() - t_start:.0f} s, peers from the cache where present).\n"
    print(text)
    out = Path(args.out)
    if out == READING.parent / "pitch_robust.md" and READING.exists():
        text += "\n" + READING.read_text()  # the hand-written reading goes with the default run
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(to_json(res, twins, conds, trackers)))


def load_items(data, per):
    return pdata.load_truth(data, per)


if __name__ == "__main__":
    main()
