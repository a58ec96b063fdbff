"""Pitch evaluation data and degradations for ``bench_pitch_robust.py`` and the voicing training.

Truth sets (``../shared/data``, see its README for each reference's frame timing):

- FDA (``fda_ue_pitch``): speakers rl (male), sb (female); ``.f0ref`` frame ``k`` at ``t = k * 15 ms``.
- PTDB-TUG (``ptdb_tug_excerpt``): F01, M01; ``ref_*.f0`` frame ``k`` at ``t = 0.02 + k * 10 ms``.
- ARCTIC (``arctic_egg_gci``): jmk, ksp, bdl, slt; glottal closure instants from the EGG. Reference
  frames at ``t = k * 10 ms``; a frame is voiced when closures ``g_i <= t < g_{i+1}`` surround it
  with ``g_{i+1} - g_i < 20 ms``, and its F0 is ``1 / (g_{i+1} - g_i)``.

Conditions (all seeded, deterministic): clean; white and pink noise; SpEAR's real noise-only
recordings; babble from other speakers of the sets; telephone (300-3400 Hz, 8 kHz, G.711 mu-law
through libsndfile); ``8k`` (the clean file at 8 kHz, no band-pass, no codec); Opus through
libsndfile; reverberation with a synthetic room impulse response.
SNRs are over the whole file (speech file power / noise power).
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy import signal

SR = 16000
TEL_SR = 8000

SPEAKERS = {"FDA": ("rl", "sb"), "PTDB": ("F01", "M01"), "ARCTIC": ("jmk", "ksp", "bdl", "slt")}
SPEAR_NOISES = {"f16": "f16noiseR2_16.wav", "factory": "factoryR1_16.wav",
                "volvo": "volvoR1_16.wav", "spear-pink": "pinkR5_16.wav"}


def _arctic_speaker(stem: str) -> str:
    head = stem.split("_arctic")[0]
    return {"en-CA.m.JmkAr": "jmk", "en-IN.m.KspAr": "ksp"}.get(head, head)


def gci_reference(gci: np.ndarray, dur_s: float, hop_s: float = 0.01, max_period_s: float = 0.02):
    """(t, f0) on frames ``t = k * hop_s``: ``1 / (g_{i+1} - g_i)`` where closures surround ``t``."""
    t = np.arange(int(dur_s / hop_s) + 1) * hop_s
    f0 = np.zeros(len(t))
    if len(gci) < 2:
        return t, f0
    i = np.searchsorted(gci, t, side="right") - 1
    ok = (i >= 0) & (i < len(gci) - 1)
    ii = np.clip(i, 0, len(gci) - 2)
    per = gci[ii + 1] - gci[ii]
    ok &= (per > 0) & (per < max_period_s)
    f0[ok] = 1.0 / per[ok]
    return t, f0


def load_truth(data: Path, per_speaker: int | None = None) -> list[dict]:
    """Items ``{name, dataset, speaker, x16, ref_t, ref_f0}`` (audio at 16 kHz, float32).

    ``per_speaker``: keep at most this many files per speaker (evenly spread), ``None`` = all.
    """
    raw = []
    for wav in sorted((data / "fda_ue_pitch").glob("*.wav")):
        ref = np.loadtxt(wav.with_suffix(".f0ref"))
        raw.append(("FDA", wav.stem[:2], wav, np.arange(len(ref)) * 0.015, ref))
    for wav in sorted((data / "ptdb_tug_excerpt").glob("mic_*.wav")):
        ref = np.loadtxt(wav.parent / ("ref_" + wav.stem[4:] + ".f0"))[:, 0]
        raw.append(("PTDB", wav.stem[4:7], wav, 0.02 + np.arange(len(ref)) * 0.01, ref))
    for wav in sorted((data / "arctic_egg_gci").glob("*.wav")):
        gci = np.loadtxt(wav.with_suffix(".pm"), usecols=0, ndmin=1)
        t, f0 = gci_reference(gci, sf.info(str(wav)).duration)
        raw.append(("ARCTIC", _arctic_speaker(wav.stem), wav, t, f0))
    items = []
    for ds, spk in ((d, s) for d, ss in SPEAKERS.items() for s in ss):
        mine = [r for r in raw if r[0] == ds and r[1] == spk]
        if per_speaker and len(mine) > per_speaker:
            mine = [mine[j] for j in np.linspace(0, len(mine) - 1, per_speaker).round().astype(int)]
        for _, _, wav, t, f0 in mine:
            x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
            x16 = soxr.resample(x[:, 0], sr, SR, quality="HQ").astype(np.float32)
            items.append({"name": wav.stem, "dataset": ds, "speaker": spk, "x16": x16,
                          "ref_t": t, "ref_f0": f0})
    return items


# ---------------------------------------------------------------- degradations

def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("|".join(map(str, key)).encode()))


def _power(x):
    return float(np.mean(np.asarray(x, np.float64) ** 2)) + 1e-20


def mix(x, noise, snr_db):
    """``x + g * noise`` with ``g`` set so that power(x) / power(g * noise) = snr_db."""
    g = np.sqrt(_power(x) / (_power(noise) * 10 ** (snr_db / 10)))
    y = x + g * noise[:len(x)]
    peak = np.max(np.abs(y))
    return (y / peak * 0.9 if peak > 0.99 else y).astype(np.float32)


def pink(n, rng):
    """1/f noise by shaping white noise in the frequency domain."""
    w = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(w), dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(w / np.sqrt(f), n)


def noise_excerpt(noise, n, rng):
    """``n`` samples of a (looped) noise recording from a random offset."""
    reps = -(-n // len(noise)) + 1
    z = np.tile(noise, reps)
    o = int(rng.integers(0, len(noise)))
    return z[o:o + n].astype(np.float64)


def babble(item, pool, n, rng, talkers=4):
    """Sum of ``talkers`` utterances of speakers other than ``item``'s, each at equal power."""
    others = [p for p in pool if p["speaker"] != item["speaker"]]
    out = np.zeros(n)
    for j in rng.choice(len(others), size=talkers, replace=False):
        z = noise_excerpt(others[j]["x16"], n, rng)
        out += z / np.sqrt(_power(z))
    return out


def telephone(x):
    """300-3400 Hz band, 8 kHz, G.711 mu-law (libsndfile's ULAW): returns 8 kHz float32."""
    sos = signal.butter(4, [300.0, 3400.0], btype="band", fs=SR, output="sos")
    y = signal.sosfilt(sos, x)
    y8 = soxr.resample(y.astype(np.float32), SR, TEL_SR, quality="HQ")
    buf = io.BytesIO()
    sf.write(buf, np.clip(y8, -1, 1), TEL_SR, format="WAV", subtype="ULAW")
    buf.seek(0)
    return sf.read(buf, dtype="float32")[0]


def opus_ok() -> bool:
    try:
        buf = io.BytesIO()
        sf.write(buf, np.zeros(1600, np.float32), SR, format="OGG", subtype="OPUS")
        return True
    except Exception:  # noqa: BLE001 - libsndfile without Opus
        return False


def opus(x):
    """Opus in Ogg through libsndfile at its highest compression (lowest bit rate)."""
    buf = io.BytesIO()
    sf.write(buf, x, SR, format="OGG", subtype="OPUS", compression_level=1.0)
    buf.seek(0)
    y = sf.read(buf, dtype="float32")[0]
    out = np.zeros_like(x)
    out[:min(len(x), len(y))] = y[:len(x)]
    return out


def synthetic_rir(rng, rt60_s=0.5, drr_db=0.0, dur_s=0.6):
    """Direct path plus an exponentially decaying noise tail (RT60 ``rt60_s``) at ``drr_db``."""
    n = int(dur_s * SR)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / rt60_s)
    tail[:int(0.002 * SR)] = 0.0          # first reflections arrive after 2 ms
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail ** 2))
    tail[0] = 1.0
    return tail


def reverb(x, rng):
    y = signal.fftconvolve(x, synthetic_rir(rng))[:len(x)]
    return (y * np.sqrt(_power(x) / _power(y))).astype(np.float32)


def conditions(with_opus: bool) -> list[str]:
    c = ["clean"]
    c += [f"{k}{s}" for k in ("white", "pink") for s in (20, 10, 5)]
    c += [f"{k}{s}" for k in SPEAR_NOISES for s in (10, 5)]
    c += ["babble10", "babble5", "telephone", "8k", "reverb"]
    if with_opus:
        c.append("opus")
    return c


def degrade(item, cond, pool, spear_dir: Path):
    """(audio, sample rate) of ``item`` under ``cond``."""
    x = item["x16"]
    rng = _rng(item["name"], cond)
    if cond == "clean":
        return x, SR
    if cond == "telephone":
        return telephone(x), TEL_SR
    if cond == "8k":
        return soxr.resample(x, SR, TEL_SR, quality="HQ").astype(np.float32), TEL_SR
    if cond == "opus":
        return opus(x), SR
    if cond == "reverb":
        return reverb(x, rng), SR
    kind = cond.rstrip("0123456789")
    snr = float(cond[len(kind):])
    if kind == "white":
        z = rng.standard_normal(len(x))
    elif kind == "pink":
        z = pink(len(x), rng)
    elif kind == "babble":
        z = babble(item, pool, len(x), rng)
    else:
        z = noise_excerpt(_spear_noise(spear_dir, kind), len(x), rng)
    return mix(x, z, snr), SR


_NOISE_CACHE: dict = {}


def _spear_noise(spear_dir: Path, kind: str) -> np.ndarray:
    if kind not in _NOISE_CACHE:
        z, sr = sf.read(str(spear_dir / "Lombard" / SPEAR_NOISES[kind]), dtype="float32",
                        always_2d=True)
        _NOISE_CACHE[kind] = soxr.resample(z[:, 0], sr, SR, quality="HQ")
    return _NOISE_CACHE[kind]


# ---------------------------------------------------------------- noisy files with clean twins

def twin_pairs(data: Path, noizeus_sentences=None, noizeus_snrs=(0, 5, 10, 15)):
    """``[(set, condition, name, noisy_path, clean_path)]`` for NOIZEUS and SpEAR."""
    out = []
    nz = data / "noizeus"
    sents = noizeus_sentences or [f"sp{k:02d}" for k in range(1, 31)]
    for d in sorted((nz / "noisy").iterdir()):
        noise, snr = d.name.rsplit("_", 1)
        if int(snr[:-2]) not in noizeus_snrs:
            continue
        for s in sents:
            for f in d.glob(f"{s}_*.wav"):
                out.append(("NOIZEUS", f"{noise}{snr[:-2]}", s, f, nz / "clean" / f"{s}.wav"))
    sp = data / "spear" / "Noisy_Recordings"
    for f in sorted(sp.glob("*_*r1_16.wav")) + sorted(sp.glob("*_white_16.wav")):
        stem, rest = f.name.split("_", 1)
        noise = rest.split("r1_16")[0].replace("_16.wav", "")
        clean = sp / f"{stem}r1_16.wav"
        if clean.exists():
            out.append(("SpEAR", noise, stem, f, clean))
    return out


def read16(path: Path):
    """(audio at its own rate if 8 or 16 kHz, rate)."""
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x[:, 0]
    if sr not in (TEL_SR, SR):
        x, sr = soxr.resample(x, sr, SR, quality="HQ").astype(np.float32), SR
    return x, sr


def align(noisy, clean):
    """Shift of ``noisy`` against ``clean`` (samples, positive = noisy later), by envelope xcorr."""
    def env(v):
        return np.sqrt(np.convolve(np.asarray(v, np.float64) ** 2, np.ones(80) / 80, "same"))
    a, b = env(noisy), env(clean)
    c = signal.correlate(a - a.mean(), b - b.mean(), mode="full", method="fft")
    return int(np.argmax(c)) - (len(b) - 1)
