"""Invariance probe: prosync on everyday transformations of the benches' own audio.

Run: ``nice -n 5 python bench/bench_invariance.py [--part pitch|turns|cli] [--only NAME,...]``
(writes ``bench/results/invariance.md`` when every part runs, prints it always).

The same audio the benches score at its native level, rate and format, transformed the way a
user's recordings are: overall level -30 / -45 dB (a quiet recorder) and +12 dB with hard
clipping at 0 dBFS; a DC offset of 0.05; 50 / 60 Hz mains hum at -40 dBFS (sine, peak); input
rates 8 / 11.025 / 22.05 / 44.1 / 48 kHz (soxr HQ from the 16 kHz audio, given to the public
API at that rate: the engine resamples); int16 / float32 WAV and FLAC written with soundfile and
scored through ``prosync score``; 30 s of digital silence (exact zeros) or of low room noise
(white, -70 dBFS RMS) before the speech; 12 dB gain imbalance between the channels; a stereo
file whose channels are identical; a 0.3 s and an empty file through the command line.

Pitch (``bench_pitch_robust``'s scoring): one file per speaker of FDA, PTDB-TUG and ARCTIC
(``pitch_data.load_truth(per_speaker=1)``: 8 files with laryngograph / EGG truth), prosync as
that bench runs it and Praat ``to_pitch_ac`` as the reference (given the transformed audio
at 16 kHz); GPE / VDE pooled over the files, and the change against the untransformed audio.

Turns (``bench_turns_planted``'s scoring): its held-out planted dialogues (ARCTIC, NOIZEUS,
SpEAR; the same layouts, beds and noise draws), conditions clean and pink 20 dB; recall,
precision, median / p90 |FTO error|. Silence or noise prepended: the truth moves by 30 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import soundfile as sf
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_pitch_robust as bpr  # noqa: E402
import bench_turns_planted as btp  # noqa: E402
import pitch_data as pdata  # noqa: E402
import planted  # noqa: E402
from _shared import ROOT, shared_data  # noqa: E402

from prosync.engine.turns import turn_events_from_segments  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "invariance.md"
READING = ROOT / "bench" / "results" / "invariance_reading.md"  # hand-written
SR = 16000
LEAD_S = 30.0
RATES = (8000, 11025, 22050, 44100, 48000)


# ----------------------------------------------------------------------------- transformations

def _hum(n, sr, hz, dbfs=-40.0):
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * np.arange(n) / sr)).astype(np.float32)


def _room(n, seed, dbfs=-70.0):
    return (10 ** (dbfs / 20) * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


#: name -> fn(list of channels at 16 kHz) -> (channels, rate, seconds prepended)
def transforms():
    def gain(db):
        return lambda cs: ([(c * 10 ** (db / 20)).astype(np.float32) for c in cs], SR, 0.0)

    def clip12(cs):
        return [np.clip(c * 10 ** (12 / 20), -1.0, 1.0).astype(np.float32) for c in cs], SR, 0.0

    def dc(cs):
        return [(c + 0.05).astype(np.float32) for c in cs], SR, 0.0

    def hum(hz, harmonics=1):
        # harmonic k at -6 (k - 1) dB under the fundamental
        return lambda cs: ([c + sum(_hum(len(c), SR, k * hz, -40.0 - 6.0 * (k - 1))
                                    for k in range(1, harmonics + 1)) for c in cs], SR, 0.0)

    def rate(r):
        return lambda cs: ([soxr.resample(c, SR, r, "HQ").astype(np.float32) for c in cs], r, 0.0)

    def lead_zeros(cs):
        z = np.zeros(int(LEAD_S * SR), np.float32)
        return [np.concatenate([z, c]) for c in cs], SR, LEAD_S

    def lead_room(cs):
        n = int(LEAD_S * SR)
        # the same low noise under the whole recording, 30 s of it alone first
        return ([np.concatenate([np.zeros(n, np.float32), c]) + _room(n + len(c), 7 + i)
                 for i, c in enumerate(cs)], SR, LEAD_S)

    t = {"level -30 dB": gain(-30), "level -45 dB": gain(-45), "+12 dB, clipped": clip12,
         "DC offset 0.05": dc, "hum 50 Hz -40 dBFS": hum(50), "hum 60 Hz -40 dBFS": hum(60),
         "hum 60 Hz + 120 / 180 Hz (-46 / -52 dBFS)": hum(60, 3),
         "hum 59.95 Hz -40 dBFS (mains 0.05 Hz low)": hum(59.95)}
    t.update({f"rate {r / 1000:g} kHz": rate(r) for r in RATES})
    t["30 s zeros before"] = lead_zeros
    t["30 s room noise before (-70 dBFS)"] = lead_room
    return t


def imbalance(cs):
    return [cs[0], (cs[1] * 10 ** (-12 / 20)).astype(np.float32)], SR, 0.0


FORMATS = {"int16 WAV": ("wav", "PCM_16"), "float32 WAV": ("wav", "FLOAT"),
           "FLAC (16 bit)": ("flac", "PCM_16")}


def cli_score(chans, sr, fmt, tmp: Path, tag: str):
    """Write ``chans`` with soundfile in ``fmt`` and run ``prosync score`` on it in-process;
    (frames table, turns rows, warnings)."""
    import pyarrow.parquet as pq

    from prosync.score import score

    ext, sub = FORMATS[fmt]
    path = tmp / f"{tag}.{ext}"
    sf.write(str(path), np.stack(chans, axis=1), sr, subtype=sub)
    out = tmp / f"{tag}_out"
    res = score([path], out, report=False)
    return (pq.read_table(out / "frames.parquet").to_pandas(),
            pq.read_table(out / "turns.parquet").to_pylist(), res.warnings)


# ----------------------------------------------------------------------------- pitch

def pitch_part(data: Path, only, log) -> list[str]:
    items = pdata.load_truth(data, per_speaker=1)
    names = ["original"] + [n for n in list(transforms()) + list(FORMATS) if not only or n in only]
    res = {}  # (tracker, transform) -> counts per file
    nan_notes = []
    tmp = Path(tempfile.mkdtemp(prefix="inv_pitch_"))
    for name in names:
        t0 = time.perf_counter()
        for it in items:
            x = it["x16"]
            key = (it["dataset"], it["speaker"])
            if name == "original":
                xs, sr, lead = [x], SR, 0.0
            elif name in FORMATS:
                xs, sr, lead = [x], SR, 0.0
            else:
                xs, sr, lead = transforms()[name]([x])
            ref_t = it["ref_t"]
            if name in FORMATS:
                fr, _, _ = cli_score(xs, sr, name, tmp, it["name"])
                t, f = fr["t_s"].to_numpy(), fr["f0_hz"].to_numpy(dtype=np.float64)
                back, _ = sf.read(str(tmp / f"{it['name']}.{FORMATS[name][0]}"), dtype="float32")
                praat_in = (back, sr)
            else:
                t, f = bpr.run_prosync(xs[0], sr)
                praat_in = (xs[0], sr)
            if np.any(np.isinf(f)):
                nan_notes.append(f"{name} {it['name']}: Inf F0")
            # on the original clock (times back by the lead, to the microsecond: reference frames
            # halfway between two estimator frames must fall on the same side as without it)
            t = np.round(np.asarray(t, np.float64) - lead, 6)
            res.setdefault(("prosync", name), {})[key] = bpr.counts(
                bpr.sample_nearest(t, f, ref_t), it["ref_f0"])
            tp, fp = bpr.run_praat_ac(*praat_in)
            tp = np.round(np.asarray(tp, np.float64) - lead, 6)
            res.setdefault(("Praat ac", name), {})[key] = bpr.counts(
                bpr.sample_nearest(tp, fp, ref_t), it["ref_f0"])
        log(f"pitch {name}: {time.perf_counter() - t0:.1f} s")
    keys = list(res[("prosync", "original")])

    def pooled(tr, name, ks=None):
        return bpr.gpe_vde(sum(res[(tr, name)][k] for k in (ks or keys)))

    L = ["## Pitch and voicing (8 files: FDA rl, sb; PTDB F01, M01; ARCTIC jmk, ksp, bdl, slt)", "",
         "GPE % / VDE % pooled over the 8 files against the laryngograph / EGG truth; delta = "
         "transformed - original (percentage points). Praat ac gets the transformed audio at "
         "16 kHz (soxr HQ).", "",
         "| transformation | prosync GPE / VDE | delta | Praat ac GPE / VDE | delta | "
         "worst file (prosync delta VDE) |",
         "|---|---|---|---|---|---|"]
    g0, v0 = pooled("prosync", "original")
    pg0, pv0 = pooled("Praat ac", "original")
    for name in names:
        g, v = pooled("prosync", name)
        pg, pv = pooled("Praat ac", name)
        worst = max(keys, key=lambda k: bpr.gpe_vde(res[("prosync", name)][k])[1]
                    - bpr.gpe_vde(res[("prosync", "original")][k])[1])
        wv = (bpr.gpe_vde(res[("prosync", name)][worst])[1]
              - bpr.gpe_vde(res[("prosync", "original")][worst])[1])
        L.append(f"| {name} | {g:.2f} / {v:.2f} | {g - g0:+.2f} / {v - v0:+.2f} | "
                 f"{pg:.2f} / {pv:.2f} | {pg - pg0:+.2f} / {pv - pv0:+.2f} | "
                 f"{worst[0]} {worst[1]} {wv:+.2f} |")
    L += [""] + [f"- {n}" for n in nan_notes] + ([""] if nan_notes else [])
    return L


# ----------------------------------------------------------------------------- turns

def held_out_dialogues(data: Path):
    """``bench_turns_planted``'s held-out dialogues, drawn exactly as its main draws them."""
    rng = np.random.default_rng(btp.SEED)
    dialogues = {g: [planted.build_dialogue(n, a, b, rng) for n, a, b in v]
                 for g, v in btp.groups(data, False).items()}
    return next(v for g, v in dialogues.items() if g.startswith("held"))


def _shift(events, s):
    return [SimpleNamespace(kind=e.kind, speaker=e.speaker, start_s=e.start_s - s,
                            end_s=e.end_s - s, fto_s=e.fto_s, speaker_before=e.speaker_before,
                            speaker_after=e.speaker_after) for e in events]


def _rows(rows):
    return [SimpleNamespace(**{k: (float("nan") if v is None and k == "fto_s" else
                                   ("" if v is None else v)) for k, v in r.items()})
            for r in rows]


TURN_CONDS = ("clean", "pink 20 dB")


def turns_part(data: Path, only, log) -> list[str]:
    ds = held_out_dialogues(data)
    truth = {}
    for d in ds:
        ipus, _, ev = turn_events_from_segments(d.segs, d.duration_s, planted.THETA_S)
        truth[d.name] = ipus + ev
    names = (["original"] + [n for n in list(transforms()) + ["b 12 dB under a"] + list(FORMATS)
                             if not only or n in only])
    tmp = Path(tempfile.mkdtemp(prefix="inv_turns_"))
    res = {}
    notes = []
    for cond in TURN_CONDS:
        ci = planted.CONDITIONS.index(cond)
        inputs = []
        for di, d in enumerate(ds):
            crng = np.random.default_rng([btp.SEED, ci, di])
            chans, sr = planted.apply_condition(cond, d, [], crng)
            inputs.append([np.asarray(c, np.float32) for c in chans])
        for name in names:
            t0 = time.perf_counter()
            scores = []
            for d, chans in zip(ds, inputs, strict=True):
                if name == "original":
                    cs, sr, lead = chans, SR, 0.0
                elif name == "b 12 dB under a":
                    cs, sr, lead = imbalance(chans)
                elif name in FORMATS:
                    cs, sr, lead = chans, SR, 0.0
                else:
                    cs, sr, lead = transforms()[name](chans)
                if name in FORMATS:
                    _, rows, warns = cli_score(cs, sr, name, tmp, f"{d.name}_{cond[:4]}")
                    got = _rows(rows)
                    notes += [f"{cond}, {name}, {d.name}: warning: {w}" for w in warns]
                else:
                    got = btp.run_prosync(cs, sr)
                got = _shift(got, lead) if lead else got
                scores.append(btp.score(truth[d.name], got))
            res[(cond, name)] = scores
            log(f"turns {cond} {name}: {time.perf_counter() - t0:.1f} s")
    L = ["## Turns (held-out planted dialogues: ARCTIC, NOIZEUS, SpEAR; 6 dialogues, "
         "44 floor transfers)", "",
         "recall | precision | median / p90 |FTO error| ms; delta against the original "
         "(recall and precision in points of %, FTO in ms).", "",
         "| condition | transformation | recall | precision | FTO med / p90 | delta recall / "
         "precision / FTO med | dialogues whose transfers changed |", "|---|---|---|---|---|---|---|"]
    for cond in TURN_CONDS:
        r0, p0, m0, _, _ = btp.summary_row(btp.merge(res[(cond, "original")]))
        for name in names:
            sc = res[(cond, name)]
            rec, prec, med, p90, _ = btp.summary_row(btp.merge(sc))
            ch = [d.name for d, s, s0 in zip(ds, sc, res[(cond, "original")], strict=True)
                  if (s["n_match"], s["n_got"]) != (s0["n_match"], s0["n_got"])]
            L.append(f"| {cond} | {name} | {rec:.3f} | {prec:.3f} | {btp.ms(med)} / {btp.ms(p90)} "
                     f"| {100 * (rec - r0):+.1f} / {100 * (prec - p0):+.1f} / "
                     f"{(med - m0) * 1000:+.0f} | {', '.join(ch) or '-'} |")
    L += [""] + [f"- {n}" for n in notes] + ([""] if notes else [])
    return L


# ----------------------------------------------------------------------------- CLI edge cases

CLI = "import sys; from prosync.cli import main; sys.exit(main())"


def cli_part(data: Path, log) -> list[str]:
    """Identical channels, a 0.3 s file and empty files, through the ``prosync`` command."""
    tmp = Path(tempfile.mkdtemp(prefix="inv_cli_"))
    items = pdata.load_truth(data, per_speaker=1)
    gap = np.zeros(SR // 2, np.float32)
    mono = np.concatenate([z for it in items for z in (it["x16"], gap)])
    cases = []
    p = tmp / "dup.wav"
    sf.write(str(p), np.stack([mono, mono], 1), SR, subtype="PCM_16")
    cases.append(("stereo, both channels identical (mono duplicated)", p))
    short = items[0]["x16"][SR // 2:SR // 2 + int(0.3 * SR)]
    for ch in (1, 2):
        p = tmp / f"short{ch}.wav"
        sf.write(str(p), np.tile(short[:, None], (1, ch)), SR, subtype="PCM_16")
        cases.append((f"0.3 s, {ch} channel(s)", p))
        p = tmp / f"empty{ch}.wav"
        sf.write(str(p), np.zeros((0, ch), np.float32), SR, subtype="PCM_16")
        cases.append((f"empty WAV, {ch} channel(s)", p))
    p = tmp / "empty.flac"
    sf.write(str(p), np.zeros((0, 2), np.float32), SR, format="FLAC", subtype="PCM_16")
    cases.append(("empty FLAC, 2 channels", p))
    L = ["## Command line: identical channels, very short and empty files", "",
         "`prosync score FILE --out DIR --no-report --quiet` as a subprocess.", "",
         "| input | exit | stderr (lines) | traceback | turn events |", "|---|---|---|---|---|"]
    for label, path in cases:
        out = tmp / (path.stem + "_out")
        r = subprocess.run([sys.executable, "-c", CLI, "score", str(path), "--out", str(out),
                            "--no-report", "--quiet"], capture_output=True, text=True)
        err = [x for x in r.stderr.splitlines() if x.strip()]
        ev = "-"
        if (out / "turns.parquet").exists():
            import pyarrow.parquet as pq

            rows = pq.read_table(out / "turns.parquet").to_pylist()
            kinds = {}
            for row in rows:
                kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
            ev = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"
        text = " / ".join(e.replace("|", "/").replace(f"{tmp}/", "") for e in err[:3])
        text += " ..." if len(err) > 3 else ""
        L.append(f"| {label} | {r.returncode} | {len(err)}: {text} | "
                 f"{'yes' if 'Traceback' in r.stderr else 'no'} | {ev} |")
        log(f"cli {label}: exit {r.returncode}")
    return L + [""]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", default="pitch,turns,cli")
    ap.add_argument("--only", default="", help="comma-separated transformation names")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    data = shared_data()
    t0 = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t0:6.0f} s] {msg}", file=sys.stderr, flush=True)

    parts = args.part.split(",")
    L = ["# Invariance to everyday transformations (`python bench/bench_invariance.py`)", "",
         (__doc__ or "").split("\n\n")[1].replace("\n", " "), ""]
    if "pitch" in parts:
        L += pitch_part(data, only, log)
    if "turns" in parts:
        L += turns_part(data, only, log)
    if "cli" in parts:
        L += cli_part(data, log)
    L.append(f"Wall time {time.perf_counter() - t0:.0f} s.")
    text = "\n".join(L) + "\n"
    if Path(args.out) == RESULTS and READING.exists():  # the hand-written reading goes with it
        text += "\n" + READING.read_text()
    print(text)
    if set(parts) >= {"pitch", "turns", "cli"} and not only:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
