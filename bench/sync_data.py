"""Real speech for the synchrony null and power benches: conversations split per speaker and
pseudo-dialogues of single-speaker recordings, turned into prosync's per-speaker series once.

* Real conversations: CANDOR ``shift.wav`` and ``hold.wav`` (one speaker per channel), the phone
  call and all 12 AMI excerpts split by their RTTMs (each speaker's channel is the mono mix with
  everything outside their turns set to zero, overlaps in both; the two most talkative speakers,
  and the next two as a second pair where the third talks at least 3 s).
* Pseudo-dialogues: sentences of two different people (FDA rl/sb, CMU ARCTIC jmk/ksp, NOIZEUS
  clean sp01-05, ..., sp26-30 taken as six speakers, each keeping only the sentences of one
  voice: :func:`one_voice`; SpEAR's TIMIT originals are many people and no longer used) laid
  out in turns: one or two sentences, then the other speaker after a gap drawn
  around 200 ms (Stivers et al. 2009; overlaps to -300 ms, pauses to 1.5 s), so that voice
  activity has the alternation of a conversation. Each side is its own channel with a -70 dBFS
  noise floor.

Every recording goes once through :class:`prosync.Session` (live defaults); what the benches
need is kept: each speaker's 10 Hz series (``f0``, ``energy``, ``rate``, ``vad``) and the IPUs
with their features (for TAMA and Levitan & Hirschberg). Cached under
``~/.cache/prosync/bench_sync`` (derived numbers, never audio), keyed by the engine's source.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from _shared import ROOT

from prosync import Session
from prosync.engine.summary import SessionSummary
from prosync.engine.synchrony import FEATURES

CACHE = Path.home() / ".cache" / "prosync" / "bench_sync"
#: Engine modules that make the tests and reports, not the series and IPUs: left out of the
#: cache key (binning and the hold are ``native/series.py`` and ``engine/speaker.py``).
NOT_SERIES = ("surrogate.py", "synchrony.py", "summary.py", "entrain_null.py", "config.py",
              "warm.py", "session_sync.py", "pseudo.py")
SR = 16000
BLOCK = 1600


def read_rttm(path: Path) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """uri -> speaker -> [(start, end)]."""
    out: dict = {}
    for line in path.read_text().splitlines():
        p = line.split()
        if len(p) >= 8 and p[0] == "SPEAKER":
            out.setdefault(p[1], {}).setdefault(p[7], []).append(
                (float(p[3]), float(p[3]) + float(p[4])))
    return out


def speaker_stream(x: np.ndarray, sr: int, spans) -> np.ndarray:
    """One speaker's stream: the mix with everything outside their (start, end) spans (s) set
    to zero."""
    m = np.zeros(len(x), bool)
    for s, e in spans:
        m[int(s * sr):int(e * sr)] = True
    return np.where(m, x, 0.0).astype(np.float32)


def split_by_turns(x: np.ndarray, sr: int, turns: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every speaker's stream (:func:`speaker_stream`, overlaps in both), busiest first, paired
    off: (1st, 2nd), then (3rd, 4th) when the third talks at least 3 s (the fourth may be
    silent). No speaker's audio is in two pairs."""
    names = sorted(turns, key=lambda k: -sum(e - s for s, e in turns[k]))
    chans = [speaker_stream(x, sr, turns[name]) for name in names]
    while len(chans) < 4:
        chans.append(np.zeros(len(x), np.float32))
    pairs = [(chans[0], chans[1])]
    if len(names) >= 3 and sum(e - s for s, e in turns[names[2]]) >= 3.0:
        pairs.append((chans[2], chans[3]))
    return pairs


def _load(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x[:, 0]
    return soxr.resample(x, sr, SR).astype(np.float32) if sr != SR else x


def real_conversations(root: Path) -> list[tuple[str, np.ndarray, np.ndarray, bool]]:
    """(name, speaker a, speaker b, two_mics) of every real conversation in ``root``: CANDOR
    ``shift`` and ``hold`` (one speaker per channel), the phone call and all 12 AMI excerpts
    split by their RTTMs (:func:`split_by_turns`: a second pair of speakers where there is
    one)."""
    recs = []
    for clip in ("shift", "hold"):
        x, sr = sf.read(str(root / "candor_mmvap_stereo" / f"{clip}.wav"), dtype="float32")
        recs.append((f"candor_{clip}", x[:, 0].copy(), x[:, 1].copy(), True))
    x = _load(root / "pyannote_sample_phonecall" / "sample.wav")
    ab = split_by_turns(x, SR, read_rttm(root / "pyannote_sample_phonecall" / "sample.rttm")["sample"])
    recs.append(("phone", ab[0][0], ab[0][1], False))
    ami = root / "ami_pyannote_debug"
    turns = {}
    for f in sorted(ami.glob("*.rttm")):
        turns.update(read_rttm(f))
    for uri in sorted(turns):
        if not (ami / f"{uri}.wav").exists():
            continue
        for k, (a, b) in enumerate(split_by_turns(_load(ami / f"{uri}.wav"), SR, turns[uri])):
            recs.append((f"ami_{uri}" + ("" if k == 0 else f"_pair{k + 1}"), a, b, False))
    return recs


def speaker_pools(root: Path) -> dict[str, list[np.ndarray]]:
    """Single-speaker sentence pools, one per person (16 kHz float32, silences trimmed)."""
    pools: dict[str, list[Path]] = {}
    fda = root / "fda_ue_pitch"
    pools["fda_rl"] = sorted(fda.glob("rl*.wav"))
    pools["fda_sb"] = sorted(fda.glob("sb*.wav"))
    arc = root / "arctic_egg_gci"
    pools["arctic_jmk"] = sorted(arc.glob("en-CA.m.JmkAr_*.wav"))
    pools["arctic_ksp"] = sorted(arc.glob("en-IN.m.KspAr_*.wav"))
    pools["arctic_bdl_slt"] = []  # too few sentences each; not used as a person
    clean = sorted((root / "noizeus" / "clean").glob("sp*.wav"))
    for k in range(0, len(clean), 5):
        pools[f"noizeus_{k // 5 + 1}"] = clean[k:k + 5]
    out = {}
    for name, paths in pools.items():
        if not paths:
            continue
        sents = []
        for p in paths:
            x = _load(p)
            e = np.convolve(x.astype(np.float64) ** 2, np.ones(320) / 320, "same")
            on = np.flatnonzero(e > 1e-3 * e.max())
            if on.size:
                sents.append(x[max(on[0] - 800, 0):on[-1] + 800])
        out[name] = one_voice(sents)
    return out


def one_voice(sents: list[np.ndarray], max_st: float = 4.0) -> list[np.ndarray]:
    """The sentences of a pool whose median F0 (WORLD DIO) lies within ``max_st`` semitones of
    the pool's median sentence: NOIZEUS's files are 6 people's in an order we do not know, and
    a taken block of 5 can hold another voice (one block: 139-178 Hz and a 262 Hz sentence),
    which would put octave-sized jumps in a "speaker-relative" F0 series."""
    import pyworld as pw

    med = []
    for x in sents:
        f0, _ = pw.dio(x.astype(np.float64), SR, frame_period=10.0)
        f0 = f0[f0 > 0]
        med.append(12 * np.log2(np.median(f0)) if len(f0) else np.nan)
    med = np.array(med)
    centre = np.nanmedian(med)
    return [x for x, m in zip(sents, med, strict=True) if abs(m - centre) <= max_st]


def dialogue_layout(pool_a, pool_b, seconds: float, rng) -> list[tuple[int, int, int]]:
    """Turns of one or two sentences, alternating speakers: ``(speaker, sentence, start)``
    with the start in samples at 16 kHz."""
    n = int(seconds * SR)
    lens = ([len(s) for s in pool_a], [len(s) for s in pool_b])
    t = int(rng.uniform(0.2, 1.0) * SR)
    who = int(rng.integers(2))
    order = [list(rng.permutation(len(p))) for p in lens]
    out = []
    while t < n:
        for _ in range(int(rng.integers(1, 3))):
            if not order[who]:
                order[who] = list(rng.permutation(len(lens[who])))
            k = int(order[who].pop())
            out.append((who, k, t))
            t += lens[who][k] + int(rng.uniform(0.15, 0.5) * SR)
        gap = float(np.clip(rng.normal(0.2, 0.35), -0.3, 1.5))
        t = max(0, t + int(gap * SR))
        who = 1 - who
    return out


def render(layout, sents: tuple, seconds: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Two channels of ``seconds`` from a layout and each speaker's sentences (``sents[w][k]``),
    with a -70 dBFS noise floor."""
    n = int(seconds * SR)
    ch = np.zeros((2, n + 20 * SR), np.float32)
    for who, k, t in layout:
        s = sents[who][k]
        m = min(len(s), ch.shape[1] - t)
        ch[who, t:t + m] += s[:m]
    floor = (10 ** (-70 / 20)) * rng.standard_normal((2, n)).astype(np.float32)
    return ch[0, :n] + floor[0], ch[1, :n] + floor[1]


def pseudo_dialogue(pool_a, pool_b, seconds: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Two channels of ``seconds``: turns of one or two sentences, alternating speakers."""
    return render(dialogue_layout(pool_a, pool_b, seconds, rng), (pool_a, pool_b), seconds, rng)


def run_pair(a: np.ndarray, b: np.ndarray, two_mics: bool) -> dict:
    """One pass of prosync over a two-speaker recording: series and IPUs per speaker."""
    s = Session(("a", "b"), sample_rate=SR, two_mics=two_mics)
    summ = SessionSummary(("a", "b"))
    parts = {k: {f: [] for f in FEATURES} for k in ("a", "b")}
    ups = []
    for i in range(0, len(a), BLOCK):
        ups.append(s.push("a", a[i:i + BLOCK]))
        ups.append(s.push("b", b[i:i + BLOCK]))
    ups.append(s.close())
    for u in ups:
        summ.update(u)
        if u.series:
            for k in ("a", "b"):
                for f in FEATURES:
                    parts[k][f].append(u.series[k][f])
    series = {k: {f: np.concatenate(v[f]) for f in FEATURES} for k, v in parts.items()}
    n = min(len(series["a"]["vad"]), len(series["b"]["vad"]))
    series = {k: {f: v[f][:n] for f in FEATURES} for k, v in series.items()}
    # both speakers' series before the hold, for the session test (pairs and surrogates)
    series["a_raw"] = {f: s.synchrony_series(f)[2][:n].copy() for f in FEATURES[:3]}
    series["b_raw"] = {f: s.synchrony_series(f)[3][:n].copy() for f in FEATURES[:3]}
    return {"series": series, "ipus": list(summ.ipu_list), "duration_s": n / 10.0}


def _key(*parts) -> str:
    """The cache key: the parts and the source of the engine that makes the series."""
    h = hashlib.sha1(repr(parts).encode())
    for d in ("engine", "native", "calibration"):
        for f in sorted((ROOT / d).glob("*.py")):
            if f.name not in NOT_SERIES:
                h.update(f.read_bytes())
    h.update(Path(__file__).read_bytes())  # the pools and layouts
    return h.hexdigest()[:16]


def cached(name: str, make, *parts):
    """``make()`` once per code version; the result pickled under ~/.cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    p = CACHE / f"{name}_{_key(name, *parts)}.pkl"
    if p.exists():
        return pickle.loads(p.read_bytes())
    v = make()
    p.write_bytes(pickle.dumps(v))
    return v


def real_sessions(root: Path) -> list[dict]:
    def make():
        return [dict(run_pair(a, b, two), name=name)
                for name, a, b, two in real_conversations(root)]
    return cached("real", make)


def pseudo_sessions(root: Path, n: int, seconds: float, seed: int = 17) -> list[dict]:
    """``n`` pseudo-dialogues of ``seconds`` between different people (pairs in rotation)."""
    def make():
        pools = speaker_pools(root)
        names = [k for k, v in pools.items() if len(v) >= 3]
        rng = np.random.default_rng(seed)
        pairs = [(p, q) for i, p in enumerate(names) for q in names[i + 1:]]
        rng.shuffle(pairs)
        out = []
        for k in range(n):
            p, q = pairs[k % len(pairs)]
            a, b = pseudo_dialogue(pools[p], pools[q], seconds, rng)
            out.append(dict(run_pair(a, b, True), name=f"{p}+{q}#{k}"))
        return out
    return cached("pseudo", make, n, seconds, seed)
