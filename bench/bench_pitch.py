"""Pitch accuracy and speed: prosync's causal tracker against Praat, WORLD dio, RAPT and pYIN.

Run: ``python bench/bench_pitch.py`` (add ``--peers-cache FILE`` to reuse the peers' contours
between runs while tuning; the final figures are always timed in one run without it).

Data (``../shared/data``, see its README): FDA (``fda_ue_pitch``, 2 speakers, 100 files, 20 kHz,
laryngograph reference, reference frame ``k`` at ``t = k * 15 ms``) and PTDB-TUG
(``ptdb_tug_excerpt``, 48 kHz, reference frame ``k`` at ``t = 0.02 + k * 10 ms``).

Every tracker gets the same audio: the file resampled to 16 kHz with soxr (HQ). prosync runs the
whole streaming path, ``prosync.Session(speakers=('a',), sample_rate=16000)``, fed in 100 ms
blocks; its frame ``k`` is at ``t = (k + 0.5) * 10 ms``. Each contour is sampled at the
reference times by taking the *nearest* frame of the tracker (its own frame times), both for
F0 and for the voicing decision.

Metrics, pooled over all reference frames of a corpus:

- GPE: over frames voiced in both the reference and the estimate, the fraction with
  ``|f0_est / f0_ref - 1| > 0.2``.
- VDE: the fraction of all reference frames where the voiced/unvoiced decisions differ.
- FPE: mean absolute error in cents over the frames voiced in both without a gross error.

Speed: the wall time of each tracker on all the audio (16 kHz, warm: the numba kernels compiled
before timing). ``ratio`` is ``prosync_time / praat_time``. The compile (first call) time of the
kernels is reported apart.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import ROOT, shared_data  # noqa: E402

SR = 16000
HOP = 160
BLOCK = 1600


# ---------------------------------------------------------------- data

def load_corpora(data: Path) -> dict[str, list[dict]]:
    """``{corpus: [{name, x16, ref_t, ref_f0}]}`` with audio at 16 kHz (float32)."""
    out: dict[str, list[dict]] = {"FDA": [], "PTDB-TUG": []}
    fda = data / "fda_ue_pitch"
    for wav in sorted(fda.glob("*.wav")):
        ref = np.loadtxt(wav.with_suffix(".f0ref"))
        x, sr = sf.read(wav, dtype="float32")
        out["FDA"].append(_item(wav.stem, x, sr, np.arange(len(ref)) * 0.015, ref))
    ptdb = data / "ptdb_tug_excerpt"
    for wav in sorted(ptdb.glob("mic_*.wav")):
        ref = np.loadtxt(ptdb / ("ref_" + wav.stem[4:] + ".f0"))[:, 0]
        x, sr = sf.read(wav, dtype="float32")
        out["PTDB-TUG"].append(_item(wav.stem, x, sr, 0.02 + np.arange(len(ref)) * 0.01, ref))
    return out


def _item(name, x, sr, ref_t, ref_f0):
    if x.ndim > 1:
        x = x[:, 0]
    x16 = soxr.resample(x, sr, SR, quality="HQ").astype(np.float32)
    return {"name": name, "x16": x16, "ref_t": ref_t, "ref_f0": ref_f0}


# ---------------------------------------------------------------- trackers
# each returns (t_s, f0_hz) with f0 = 0 or NaN where unvoiced

def run_prosync(x):
    import prosync

    s = prosync.Session(speakers=("a",), sample_rate=SR)
    f0, t = [], []
    for i in range(0, len(x), BLOCK):
        u = s.push("a", x[i:i + BLOCK])
        if "a" in u.frames:
            f0.append(u.frames["a"]["f0_hz"])
            t.append(u.frames["a"]["t_s"])
    u = s.close()
    if "a" in u.frames:
        f0.append(u.frames["a"]["f0_hz"])
        t.append(u.frames["a"]["t_s"])
    return np.concatenate(t), np.concatenate(f0)


def run_praat(x):
    import parselmouth

    p = parselmouth.Sound(x.astype(np.float64), SR).to_pitch_ac(
        time_step=0.01, pitch_floor=60.0, pitch_ceiling=500.0)
    return p.xs(), p.selected_array["frequency"]


def run_dio(x):
    import pyworld

    x64 = x.astype(np.float64)
    f0, t = pyworld.dio(x64, SR, f0_floor=60.0, f0_ceil=500.0, frame_period=10.0)
    f0 = pyworld.stonemask(x64, f0, t, SR)
    return t, f0


def run_rapt(x):
    import pysptk

    f0 = pysptk.sptk.rapt(x * np.float32(32768.0), SR, HOP, min=60.0, max=500.0, otype="f0")
    return np.arange(len(f0)) * (HOP / SR), f0


def run_pyin(x):
    import librosa

    f0, _, _ = librosa.pyin(x, fmin=60.0, fmax=500.0, sr=SR, frame_length=1024, hop_length=HOP)
    return np.arange(len(f0)) * (HOP / SR), f0


TRACKERS = {
    "prosync (causal, Session)": run_prosync,
    "Praat to_pitch_ac": run_praat,
    "WORLD dio+stonemask": run_dio,
    "SPTK RAPT": run_rapt,
    "librosa pYIN": run_pyin,
}
PEER_NOTES = {
    "prosync (causal, Session)": "60-500 Hz, causal, look-ahead {la} ms incl. {lag}-frame lag",
    "Praat to_pitch_ac": "time_step 0.01, 60-500 Hz (offline)",
    "WORLD dio+stonemask": "60-500 Hz, 10 ms (offline)",
    "SPTK RAPT": "60-500 Hz, hop 160 (offline)",
    "librosa pYIN": "60-500 Hz, frame 1024, hop 160 (offline)",
}


# ---------------------------------------------------------------- scoring

def sample_nearest(t_est, f0_est, t_ref):
    """Nearest estimate frame at every reference time; 0 where unvoiced."""
    f0 = np.nan_to_num(np.asarray(f0_est, dtype=np.float64), nan=0.0)
    t_est = np.asarray(t_est, dtype=np.float64)
    j = np.clip(np.searchsorted(t_est, t_ref), 1, len(t_est) - 1)
    left = (t_ref - t_est[j - 1]) <= (t_est[j] - t_ref)
    j = np.where(left, j - 1, j)
    return f0[j]


def counts(est, ref):
    rv, ev = ref > 0, est > 0
    both = rv & ev
    gross = np.abs(est[both] / ref[both] - 1.0) > 0.2
    cents = np.abs(1200.0 * np.log2(est[both][~gross] / ref[both][~gross]))
    return np.array([gross.sum(), both.sum(), (rv != ev).sum(), len(ref), cents.sum()])


# ---------------------------------------------------------------- speed

def _timed(fn, xs):
    t0 = time.perf_counter()
    for x in xs:
        fn(x)
    return time.perf_counter() - t0


def time_pitch_kernel(xs):
    """prosync's pitch alone: PitchTracker on 16 kHz audio in calls of 100 frames."""
    from prosync.engine.config import PitchConfig
    from prosync.engine.pitch import PitchTracker
    from prosync.native.frames import frame_energy_db

    nmax = 100
    t_total = 0.0
    for x in xs:
        tr = PitchTracker(PitchConfig(), nmax)
        lb, la = tr.LOOKBEHIND, tr.LOOKAHEAD
        n_frames = -(-len(x) // HOP)
        buf = np.zeros(lb + n_frames * HOP + la + HOP, dtype=np.float32)
        buf[lb:lb + len(x)] = x
        e = np.zeros(n_frames, dtype=np.float32)
        f0 = np.zeros(nmax, dtype=np.float32)
        per = np.zeros(nmax, dtype=np.float32)
        v = np.zeros(nmax, dtype=np.bool_)
        frame_energy_db(buf, lb + HOP // 2, n_frames, HOP, 400, e)
        t0 = time.perf_counter()
        for k0 in range(0, n_frames, nmax):
            n = min(nmax, n_frames - k0)
            tr.process(buf, lb + k0 * HOP + HOP // 2, n, e[k0:], f0, per, v)
        t_total += time.perf_counter() - t0
    return t_total


_FIRST_CALL = """
import time
import numpy as np
from prosync.engine.config import PitchConfig
from prosync.engine.pitch import PitchTracker
tr = PitchTracker(PitchConfig(), 4)
x = np.zeros(tr.LOOKBEHIND + 4 * 160 + tr.LOOKAHEAD, dtype=np.float32)
z = np.zeros(4, np.float32)
t0 = time.perf_counter()
tr.process(x, tr.LOOKBEHIND, 4, z, z.copy(), z.copy(), np.zeros(4, np.bool_))
print(time.perf_counter() - t0)
"""


def first_call_times():
    """First call of the pitch kernels in a fresh process: (cold compile, load from cache) s."""
    import subprocess
    import tempfile

    out = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for _ in range(2):  # the first run compiles and fills the cache, the second loads it
            r = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, check=True,
                               capture_output=True, text=True)
            out.append(float(r.stdout.split()[-1]))
    return out[0], out[1]


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peers-cache", help="pickle file to reuse the peers' contours (tuning only)")
    ap.add_argument("--no-pyin", action="store_true", help="skip librosa pYIN (slow)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "pitch.md"))
    args = ap.parse_args(argv)

    corpora = load_corpora(shared_data())
    all_x = [it["x16"] for items in corpora.values() for it in items]
    audio_s = sum(len(x) for x in all_x) / SR

    t_compile, t_cached = first_call_times()
    import prosync.engine.pitch as ep
    from prosync.engine.config import PitchConfig

    tr = ep.PitchTracker(PitchConfig(), 1)
    la_ms, lag = tr.lookahead_s * 1000.0, tr.lag
    names = [n for n in TRACKERS if not (args.no_pyin and n == "librosa pYIN")]
    cache = {}
    if args.peers_cache and os.path.exists(args.peers_cache):
        with open(args.peers_cache, "rb") as fh:
            cache = pickle.load(fh)
    run_prosync(all_x[0][:SR])  # warm the whole Session path
    res = {n: {c: np.zeros(5) for c in corpora} for n in names}
    secs = {}
    for name in names:
        fn = TRACKERS[name]
        cached = name != "prosync (causal, Session)" and name in cache
        t_run = 0.0
        outs = []
        for corpus, items in corpora.items():
            for it in items:
                if cached:
                    t_est, f0_est = cache[name][it["name"]]
                else:
                    t0 = time.perf_counter()
                    t_est, f0_est = fn(it["x16"])
                    t_run += time.perf_counter() - t0
                outs.append((it["name"], t_est, f0_est))
                res[name][corpus] += counts(sample_nearest(t_est, f0_est, it["ref_t"]),
                                            it["ref_f0"])
        secs[name] = cache.get("_secs", {}).get(name) if cached else t_run
        if args.peers_cache and not cached and name != "prosync (causal, Session)":
            cache[name] = {nm: (t, f) for nm, t, f in outs}
            cache.setdefault("_secs", {})[name] = t_run
    if args.peers_cache:
        with open(args.peers_cache, "wb") as fh:
            pickle.dump(cache, fh)
    # speed, best of 3 (the machine may be shared): Praat, prosync's pitch, prosync's Session
    t_praat = min(_timed(run_praat, all_x) for _ in range(3))
    t_kernel = min(time_pitch_kernel(all_x) for _ in range(3))
    t_session = min(_timed(run_prosync, all_x) for _ in range(3))

    lines = [
        f"Pitch accuracy against laryngograph references ({audio_s:.1f} s of audio at 16 kHz; "
        "nearest-frame sampling at the reference times; GPE over frames voiced in both, "
        "20 % tolerance; VDE over all reference frames; FPE: mean absolute error in cents over "
        "the frames voiced in both without a gross error).",
        "",
        "| tracker | settings | FDA GPE % | FDA VDE % | PTDB GPE % | PTDB VDE % | "
        "all GPE % | all VDE % | all FPE cents | time s | x Praat |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    praat_s = secs.get("Praat to_pitch_ac")
    for name in names:
        c = res[name]
        tot = sum(c.values())
        cells = []
        for v in (*c.values(), tot):
            cells += [f"{100 * v[0] / max(v[1], 1):.2f}", f"{100 * v[2] / max(v[3], 1):.2f}"]
        cells.append(f"{tot[4] / max(tot[1] - tot[0], 1):.1f}")
        s = secs[name]
        ratio = f"{s / praat_s:.3f}" if (s and praat_s) else "-"
        lines.append(f"| {name} | {PEER_NOTES[name].format(la=round(la_ms, 1), lag=lag)} | "
                     + " | ".join(cells) + f" | {s:.3f} | {ratio} |")
    lines += [
        "",
        "Speed, best of 3 runs over all the audio (the time column above is the single pass run "
        "for accuracy):",
        f"- Praat to_pitch_ac: {t_praat:.3f} s",
        f"- prosync pitch alone (PitchTracker, 100-frame calls): {t_kernel:.3f} s = "
        f"**{t_kernel / t_praat:.3f} x Praat**",
        f"- prosync whole Session path (all features, 1 speaker): {t_session:.3f} s = "
        f"{t_session / t_praat:.3f} x Praat",
        f"- first call of the pitch kernels in a fresh process: {t_compile:.2f} s compiling, "
        f"{t_cached:.2f} s loading numba's cache (not in the times above)",
        f"- real-time factor of prosync's pitch: {t_kernel / audio_s:.5f}",
        "- reference frames: FDA "
        f"{int(res[names[0]]['FDA'][3])}, PTDB-TUG {int(res[names[0]]['PTDB-TUG'][3])}",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
