"""Speech-rate accuracy: prosync's syllable nuclei against transcript syllable counts.

Runs the whole :class:`prosync.Session` (one speaker) on every file, collects the nuclei
(``frame index - nucleus_age``) and counts them per reference segment:

* FDA: 100 read sentences (rl = male, sb = female), one segment per file;
* CANDOR: each channel of the two stereo clips, one segment per channel;
* the pyannote phone call (mono): the RTTM turns and the STM utterances, a nucleus counting for
  every segment its time falls in.

Beside each figure stands de Jong & Wempe's Syllable Nuclei v3 (Praat, default settings) from
``reference/speech_rate/``. Writes ``bench/results/rate.md`` and prints it.

Usage: ``python bench/bench_rate.py`` (``--dump FILE.npz`` also saves the per-file energy and
voicing the rate tracker received, to tune the detector offline).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import ROOT, shared_data  # noqa: E402

import prosync  # noqa: E402
from prosync.engine.config import RateConfig  # noqa: E402
from prosync.engine.rate import RateTracker, articulation_rate  # noqa: E402

HOP_S = 0.01
BLOCK_S = 0.25


def run_session(x: np.ndarray, sr: int) -> dict[str, np.ndarray]:
    """Push ``x`` in 250 ms blocks through a one-speaker Session; return its frame columns."""
    s = prosync.Session(speakers=("a",), sample_rate=sr)
    cols: dict[str, list] = {"energy_db": [], "voiced": [], "nucleus_age": [], "rate_sps": []}
    block = int(BLOCK_S * sr)
    ups = [s.push("a", x[i:i + block]) for i in range(0, len(x), block)]
    ups.append(s.close())
    for u in ups:
        f = u.frames.get("a")
        if f is None:
            continue
        for k in cols:
            cols[k].append(f[k])
    return {k: np.concatenate(v) for k, v in cols.items()}


def nucleus_frames(age: np.ndarray) -> np.ndarray:
    """Frames of the nuclei (frame index - age), frame k centred at ``(k + 0.5) * 0.01`` s."""
    k = np.flatnonzero(age >= 0)
    return k - age[k]


def read_ref(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def rate_with_voicing(energy_db: np.ndarray, f0ref: np.ndarray) -> np.ndarray:
    """Nucleus frames from a RateTracker fed ``energy_db`` and the FDA laryngograph voicing
    (``f0ref``: 15 ms hop, frame j at j * 15 ms, 0 = unvoiced), in one call."""
    n = len(energy_db)
    j = np.clip(np.round((np.arange(n) + 0.5) * HOP_S / 0.015).astype(int), 0, len(f0ref) - 1)
    age = np.zeros(n, np.int64)
    rate = np.zeros(n, np.float32)
    voiced = f0ref[j] > 0
    RateTracker(RateConfig()).process(0, n, energy_db.astype(np.float32), voiced, voiced, age,
                                      rate)
    return nucleus_frames(age)


def stats(seg: list[tuple]) -> dict:
    """Figures of one group of segments: (count, transcript, de Jong, rate, transcript rate,
    de Jong rate) per segment."""
    a = np.asarray(seg, dtype=float).reshape(-1, 6)
    pred, ref, dj, rate, ref_rate, dj_rate = a.T

    def r(x, y):
        return float(np.corrcoef(x, y)[0, 1]) if np.std(x) > 0 and np.std(y) > 0 else float("nan")

    return {
        "n": len(ref), "r": r(pred, ref), "r_dj": r(dj, ref), "sum_ref": ref.sum(),
        "sum": pred.sum(), "sum_dj": dj.sum(), "mad": np.mean(np.abs(pred - ref)),
        "mad_dj": np.mean(np.abs(dj - ref)), "r_rate": r(rate, ref_rate),
        "r_rate_dj": r(dj_rate, ref_rate),
    }


def segment(row: dict, frames: np.ndarray, start_s: float, end_s: float) -> tuple:
    """Count the nuclei in [start, end) of a reference row; rates by :func:`articulation_rate`."""
    t = (frames + 0.5) * HOP_S
    n = int(np.sum((t >= start_s) & (t < end_s)))
    return (n, int(row["transcript_syllables"]), int(row["dejong_nsyll"]),
            articulation_rate(frames, start_s, end_s), float(row["transcript_speechrate"]),
            float(row["dejong_speechrate"]))


def evaluate(data: Path, dump: dict | None = None) -> tuple[list, float, float]:
    ref_dir = data / "reference" / "speech_rate"
    rows = []
    audio_s = 0.0
    t0 = time.perf_counter()

    # FDA sentences: the whole file is the segment
    by: dict[str, list] = {"rl": [], "sb": []}
    lar: dict[str, list] = {"rl": [], "sb": []}
    for row in read_ref(ref_dir / "fda.csv"):
        sid = row["segment_id"]
        x, sr = sf.read(data / "fda_ue_pitch" / f"{sid}.wav", dtype="float32")
        audio_s += len(x) / sr
        cols = run_session(x, sr)
        if dump is not None:
            dump[sid] = cols
        by[sid[:2]].append(segment(row, nucleus_frames(cols["nucleus_age"]), 0.0, len(x) / sr))
        # diagnostic: the same energy with the laryngograph's voicing instead of the tracker's
        f0ref = np.loadtxt(data / "fda_ue_pitch" / f"{sid}.f0ref")
        lar[sid[:2]].append(segment(row, rate_with_voicing(cols["energy_db"], f0ref), 0.0,
                                    len(x) / sr))
    rows.append(("FDA rl (male)", stats(by["rl"])))
    rows.append(("FDA sb (female)", stats(by["sb"])))
    rows.append(("FDA all", stats(by["rl"] + by["sb"])))
    rows.append(("FDA rl, laryngograph voicing*", stats(lar["rl"])))
    rows.append(("FDA sb, laryngograph voicing*", stats(lar["sb"])))
    rows.append(("FDA all, laryngograph voicing*", stats(lar["rl"] + lar["sb"])))

    # CANDOR: each channel of each clip is one segment
    cand = {r["segment_id"]: r for r in read_ref(ref_dir / "candor.csv")}
    seg = []
    for clip in ("shift", "hold"):
        x, sr = sf.read(data / "candor_mmvap_stereo" / f"{clip}.wav", dtype="float32")
        for ch in range(x.shape[1]):
            sid = f"{clip}_ch{ch}"
            xc = np.ascontiguousarray(x[:, ch])
            audio_s += len(xc) / sr
            cols = run_session(xc, sr)
            if dump is not None:
                dump[sid] = cols
            row = cand[sid]
            seg.append(segment(row, nucleus_frames(cols["nucleus_age"]), float(row["start_s"]),
                               float(row["end_s"])))
    rows.append(("CANDOR channels", stats(seg)))

    # phone call (mono mix): RTTM turns and STM utterances, nuclei counted by time
    x, sr = sf.read(data / "pyannote_sample_phonecall" / "sample.wav", dtype="float32")
    audio_s += len(x) / sr
    cols = run_session(x, sr)
    if dump is not None:
        dump["phonecall"] = cols
    frames = nucleus_frames(cols["nucleus_age"])
    for name, fn in (("phone call RTTM turns", "pyannote_rttm.csv"),
                     ("phone call STM utterances", "pyannote_stm.csv")):
        seg = [segment(row, frames, float(row["start_s"]), float(row["end_s"]))
               for row in read_ref(ref_dir / fn)]
        rows.append((name, stats(seg)))
    return rows, audio_s, time.perf_counter() - t0


def time_tracker(seconds: float = 600.0, batch: int = 100) -> dict:
    """Steady-state cost of :class:`RateTracker` per 10 ms frame, and its first-call time."""
    rng = np.random.default_rng(0)
    n = int(seconds / HOP_S)
    t = np.arange(n) * HOP_S
    e = (-30.0 + 12.0 * np.sin(2 * np.pi * 4.0 * t) + rng.normal(0, 1.5, n)).astype(np.float32)
    v = rng.random(n) < 0.5
    age = np.zeros(batch, np.int64)
    rate = np.zeros(batch, np.float32)
    rt = RateTracker(RateConfig())
    t0 = time.perf_counter()
    rt.process(0, batch, e[:batch], v[:batch], v[:batch], age, rate)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k0 in range(batch, n - batch + 1, batch):
        rt.process(k0, batch, e[k0:k0 + batch], v[k0:k0 + batch], v[k0:k0 + batch], age, rate)
    steady = (time.perf_counter() - t0) / (n - batch)
    return {"first_s": first, "us_per_frame": steady * 1e6, "batch": batch}


def render(rows, audio_s, wall_s, timing) -> str:
    out = [
        "# Speech rate: syllable counts against transcripts",
        "",
        "prosync = online syllable nuclei (`engine/rate.py`, `native/nuclei.py`) inside the whole",
        "`Session` (one speaker per session, 250 ms blocks); de Jong = Syllable Nuclei v3",
        "(de Jong & Wempe 2009; Praat, default settings), from `reference/speech_rate/`.",
        "r = Pearson r of per-segment syllable counts with transcript (CMUdict) counts;",
        "ratio = total counted / transcript total; MAD = mean |count - transcript| per segment;",
        "r rate = Pearson r of syllables/s over the segment with the transcript's (prosync:",
        "`articulation_rate` over the segment; de Jong: its speech rate).",
        "",
        "| data | n | r prosync | r de Jong | ratio prosync | ratio de Jong | MAD prosync "
        "| MAD de Jong | r rate prosync | r rate de Jong |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in rows:
        out.append(
            f"| {name} | {s['n']} | {s['r']:.4f} | {s['r_dj']:.4f} "
            f"| {s['sum'] / s['sum_ref']:.3f} ({s['sum']:.0f}/{s['sum_ref']:.0f}) "
            f"| {s['sum_dj'] / s['sum_ref']:.3f} ({s['sum_dj']:.0f}) "
            f"| {s['mad']:.2f} | {s['mad_dj']:.2f} | {s['r_rate']:.3f} | {s['r_rate_dj']:.3f} |"
        )
    out += [
        "",
        "\\* Diagnostic, not a result: the rate tracker fed the Session's energy with the FDA",
        "laryngograph voicing in place of the pitch tracker's, to separate the nucleus detector from",
        "the voicing decision it depends on.",
        "",
        f"Audio analysed: {audio_s:.1f} s in {wall_s:.1f} s wall time (whole Session, all "
        "features).",
        f"RateTracker alone: {timing['us_per_frame']:.2f} us per 10 ms frame in steady state "
        f"({timing['batch']}-frame calls); first call (numba compile or cache load) "
        f"{timing['first_s'] * 1e3:.0f} ms.",
        "",
        "Command: `python bench/bench_rate.py`",
        "",
    ]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dump", type=Path, help="save per-file Session columns to this .npz")
    args = ap.parse_args(argv)
    data = shared_data()
    dump = {} if args.dump else None
    timing = time_tracker()  # first, so that its first call includes compile or cache load
    rows, audio_s, wall_s = evaluate(data, dump)
    md = render(rows, audio_s, wall_s, timing)
    res = ROOT / "bench" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / "rate.md").write_text(md)
    print(md)
    if dump is not None:
        np.savez_compressed(args.dump, **{f"{sid}__{k}": v for sid, c in dump.items()
                                          for k, v in c.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
