"""Planted two-channel dialogues from real single-speaker recordings, with exact turn truth.

Used by ``bench/bench_turns_planted.py``. Every true boundary is known to the millisecond: truth
IPUs are cut on each clean recording, the recordings are laid out on two channels with drawn
floor-transfer offsets (FTOs) and within-speaker pauses, and the truth events follow from the
truth IPUs through the same turn rules (``turn_events_from_segments``, theta 180 ms).

Truth IPUs of one recording: ``truth_segments`` (floor from the recording's quietest 100 ms,
threshold against it and the speech level, Praat's voicing, breaths before onsets split off);
``Cut`` holds its constants, ``truth_with`` recuts a laid-out dialogue with other constants (the
bench's ambiguity section). The first 30 ms of every recording are faded in first (FDA files open
with a click).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import butter, lfilter, sosfilt

SR = 16000
THETA_S = 0.18
PAD_S = 0.10  # each clip carries this much of its own recording around its first/last IPU
BED_MIN_S = 5.0  # less room-tone material than this: the bed takes only its floor (room_tone_bed)
BED_FLOOR_DB = 6.0


def load16(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x[:, 0]
    if sr != SR:
        x = soxr.resample(x, sr, SR, "HQ").astype(np.float32)
    return x


def energy_db(x: np.ndarray, hop: int, win: int) -> np.ndarray:
    """Energy (dB) of the window of ``win`` samples centred on sample ``k*hop + hop//2``."""
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    centre = np.arange(x.shape[0] // hop) * hop + hop // 2
    lo = np.clip(centre - win // 2, 0, x.shape[0])
    hi = np.clip(centre + win // 2, 0, x.shape[0])
    return 10 * np.log10((c[hi] - c[lo]) / win + 1e-12)


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(flags.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    return list(zip(np.flatnonzero(d > 0).tolist(), np.flatnonzero(d < 0).tolist(), strict=True))


@dataclass(frozen=True)
class Cut:
    """The truth cut's constants (``truth_segments``); the ambiguity study varies them."""

    margin_db: float = 12.0   # active over the floor by this much ...
    depth_db: float = 45.0    # ... and no deeper than this under the speech level
    loud_db: float = 20.0     # unvoiced frames within this of the speech level are speech
    voiced_db: float = 30.0   # voiced frames count within this of the speech level (EGG: 99.7 %)
    join_s: float = 0.10      # active runs closer than this are one IPU (stop closures)
    burst_s: float = 0.10     # a core-less run before the onset this short and ...
    gap_s: float = 0.02       # ... this close to it is a stop's burst, not a breath
    breaths: bool = True      # False: no breath rule (core-less edge runs stay in the IPU)
    trim_s: float = 0.0       # > 0: quiet unvoiced edge frames only this far beyond a core


CUT = Cut()


def silence_floor_db(e: np.ndarray, win: int = 100) -> float:
    """The recording's silence level: mean frame energy (dB) of its quietest ``win`` ms.

    Not a percentile of the whole file: on tightly cut sentences (ARCTIC, NOIZEUS, TIMIT: 9-22 %
    of the file outside speech) the 10th percentile lies 4-9 dB up in speech tails."""
    c = np.concatenate([[0.0], np.cumsum(e[30:])])  # the first 30 ms are faded in
    w = min(win, e.shape[0] - 30)
    return float(np.min(c[w:] - c[:-w]) / w)


def praat_voiced(x: np.ndarray) -> np.ndarray:
    """Voicing per 1 ms frame from Praat's autocorrelation pitch (60-500 Hz, 2 ms step)."""
    import parselmouth  # noqa: PLC0415

    p = parselmouth.Sound(x.astype(np.float64), SR).to_pitch_ac(
        time_step=0.002, pitch_floor=60.0, pitch_ceiling=500.0, silence_threshold=0.003)
    f0 = p.selected_array["frequency"]
    t = np.asarray(p.xs())
    n = x.shape[0] // 16
    idx = np.clip(np.round(t * 1000 - 0.5).astype(int), 0, n - 1)
    v = np.zeros(n, bool)
    v[idx] = f0 > 0
    v[np.minimum(idx + 1, n - 1)] |= f0 > 0  # the 2 ms step covers both 1 ms frames
    return v


def reference_voicing(path: Path, n: int):
    """1 ms voicing from FDA's laryngograph F0 (15 ms frames), ARCTIC's EGG closures or
    PTDB-TUG's laryngograph F0 (10 ms frames from 20 ms); None for the rest."""
    v = np.zeros(n, bool)
    if path.with_suffix(".f0ref").exists():
        for k, f0 in enumerate(np.loadtxt(path.with_suffix(".f0ref"))):
            v[max(0, k * 15 - 7):k * 15 + 8] |= f0 > 0
    elif path.with_suffix(".pm").exists():
        t = np.loadtxt(path.with_suffix(".pm"), usecols=0)
        for a, b in zip(t[:-1], t[1:], strict=True):
            v[int(a * 1000):int(b * 1000) + 1] |= b - a < 0.02
    elif path.stem.startswith("mic_"):
        for k, row in enumerate(np.loadtxt(path.parent / f"ref_{path.stem[4:]}.f0")):
            v[max(0, 15 + k * 10):25 + k * 10] |= row[0] > 0
    else:
        return None
    return v


def truth_segments(x: np.ndarray, cut: Cut = CUT, voiced: np.ndarray | None = None):
    """Truth IPUs of a clean recording in s, its speech level and floor (dB), and the breaths
    (unvoiced stretches over the threshold split off) in s.

    1 ms frames of 10 ms energy ``e``; speech level ``L`` = 95th percentile of ``e``; floor ``N``
    = the quietest 100 ms (:func:`silence_floor_db`). Active: ``e > max(N + margin, L - depth)``.
    Active runs closer than ``join_s`` are joined (stop closures); a joined group is an IPU when
    it holds 20 ms that Praat voices (:func:`praat_voiced`) within ``voiced_db`` of ``L`` (99.7 %
    of the frames FDA's laryngograph voices and all that ARCTIC's EGG voices are; 2.5-7 % of the
    frames Praat voices are not: clicks, lip noise, a release after its closure). Cores: those
    voiced frames, or 20 ms or more within ``loud_db`` of ``L`` (strong fricatives; not clicks).
    Inside the IPU
    and at its end everything is speech (final stops and fricatives after their closure); before
    its first core, the active runs that hold no core are split off as breath (inhalations, lip
    noise: an FDA inhalation joined to the next onset opened the old truth IPU 150-470 ms before
    any system heard speech), except one no longer than ``burst_s`` within ``gap_s`` (a stop's
    burst and aspiration). The run that holds the first core is kept whole: unvoiced onsets
    (fricatives, aspiration) stay attached.
    """
    e = energy_db(x, 16, 160)  # 1 ms hop, 10 ms window
    n = e.shape[0]
    level, floor = float(np.percentile(e, 95)), silence_floor_db(e)
    v = praat_voiced(x) if voiced is None else voiced
    v = v[:n]
    act = e > max(floor + cut.margin_db, level - cut.depth_db)
    loud = np.zeros(n, bool)  # loud unvoiced (strong fricatives): 20 ms or more, not a click
    for a, b in runs(act & (e > level - cut.loud_db)):
        loud[a:b] = b - a >= 20
    vcore = act & v & (e > level - cut.voiced_db)  # Praat voices clicks and lip noise 35-50 dB
    core = vcore | loud                             # down; the laryngograph never does
    # IPUs: runs of active frames joined across gaps under join_s (stop closures); inside an
    # IPU and at its end everything is speech (weak fricatives, final stops and fricatives
    # after their closure: "planks", "rich"), but before its first core only the run that holds
    # it and one core-less run (a stop's burst and aspiration: "clams") no longer than burst_s
    # and within gap_s of it; longer or farther core-less runs before it are breaths (and lip
    # noise), split off
    groups: list[list[tuple[int, int]]] = []
    for a, b in runs(act):
        if groups and a - groups[-1][-1][1] < cut.join_s * 1000:
            groups[-1].append((a, b))
        else:
            groups.append([(a, b)])
    segs = []
    for g in groups:
        has = [bool(core[a:b].any()) for a, b in g]
        if not any(has) or sum(int(vcore[a:b].sum()) for a, b in g) < 20:
            continue
        i, j = has.index(True), len(g) - 1
        if not cut.breaths:
            i = 0
        elif (i > 0 and g[i - 1][1] - g[i - 1][0] <= cut.burst_s * 1000
              and g[i][0] - g[i - 1][1] <= cut.gap_s * 1000):
            i -= 1
        a1, b1 = g[i][0], g[j][1]
        if cut.trim_s > 0:  # the stricter variant: quiet unvoiced edges trimmed inside the run
            c, t = a1 + np.flatnonzero(core[a1:b1]), int(round(cut.trim_s * 1000))
            a1, b1 = max(a1, c[0] - t), min(b1, c[-1] + 1 + t)
        if b1 - a1 >= 40:
            segs.append((a1 / 1000, b1 / 1000))
    mask = np.zeros(n, bool)
    for a, b in segs:
        mask[int(a * 1000):int(b * 1000)] = True
    breath = act & ~mask & ~vcore
    breaths = [(a / 1000, b / 1000) for a, b in runs(breath) if b - a >= 30]
    return segs, level, floor, breaths


@dataclass
class Utt:
    """One recording: 16 kHz samples, truth IPUs (s, in the recording), speaker and levels."""

    name: str
    speaker: str
    x: np.ndarray
    segs: list
    level_db: float
    floor_db: float
    voiced: np.ndarray  # Praat's voicing per 1 ms frame (the truth cut's; kept for its variants)
    bed_ref_db: float   # 10th percentile of the frames: the room-tone bed's reference (room_tone_bed)


def make_utt(path: Path, speaker: str) -> Utt:
    x = load16(path)
    # the first 30 ms are faded in: FDA files open with a click, which is not speech
    x[:480] *= np.linspace(0.0, 1.0, 480, dtype=np.float32) ** 4
    v = praat_voiced(x)
    segs, level, floor, _ = truth_segments(x, CUT, v)  # CUT at call time: --cut sets it
    bed_ref = float(np.percentile(energy_db(x, 16, 160), 10))
    return Utt(path.stem, speaker, x, segs, level, floor, v, bed_ref)


def draw_fto(rng) -> float:
    """Heldner & Edlund-like FTO: 60 % gaps (lognormal, mode ~200 ms), 40 % overlaps; -1..1.5 s."""
    if rng.random() < 0.6:
        return float(min(1.5, max(0.02, rng.lognormal(np.log(0.3), 0.6))))
    return float(-min(1.0, max(0.02, rng.exponential(0.3))))


@dataclass
class Dialogue:
    name: str
    clean: tuple  # two float32 channels at 16 kHz
    segs: dict    # speaker ('a'/'b') -> truth IPUs in s (raw, before bridging)
    duration_s: float
    utts: tuple   # the Utt lists per channel (for room-tone beds and levels)
    offsets: tuple  # per channel, where each of its recordings starts (s)


def truth_with(d: Dialogue, cut: Cut) -> dict:
    """The truth IPUs of dialogue ``d`` (same layout) under another truth cut."""
    out = {}
    for key, utts, offs in zip(("a", "b"), d.utts, d.offsets, strict=True):
        out[key] = [(round(off + a, 3), round(off + b, 3)) for u, off in zip(utts, offs, strict=True)
                    for a, b in truth_segments(u.x, cut, u.voiced)[0]]
    return out


def build_dialogue(name: str, utts_a: list, utts_b: list, rng) -> Dialogue:
    """Alternating turns of 1-3 recordings; FTOs drawn by :func:`draw_fto`, pauses 0.2-1.5 s."""
    queues = [list(utts_a), list(utts_b)]
    placed: list[list[tuple[float, Utt]]] = [[], []]  # (offset of the recording start, utt)
    last_end = [-10.0, -10.0]      # end of each speaker's last truth IPU (absolute s)
    last_ipu_dur = [0.0, 0.0]
    spk, t = 0, 0.6
    first = True
    while queues[spk]:
        k = int(rng.integers(1, 4))
        for j in range(min(k, len(queues[spk]))):
            u = queues[spk].pop(0)
            a0 = u.segs[0][0]
            if first:
                start = t
                first = False
            elif j == 0:  # floor transfer from the other speaker
                o = 1 - spk
                fto = draw_fto(rng)
                lim = 0.7 * min(last_ipu_dur[o], u.segs[0][1] - u.segs[0][0])
                fto = max(fto, -lim)
                start = last_end[o] + fto
                # the channel's own previous recording must be over, with room for its pause
                start = max(start, last_end[spk] + 0.4)
            else:  # within-speaker pause
                start = last_end[spk] + float(rng.uniform(0.2, 1.5))
            placed[spk].append((start - a0, u))
            last_end[spk] = start - a0 + u.segs[-1][1]
            last_ipu_dur[spk] = u.segs[-1][1] - u.segs[-1][0]
        spk = 1 - spk
    dur = max(last_end) + 0.8
    n = int(round(dur * SR))
    chans = [np.zeros(n, np.float32), np.zeros(n, np.float32)]
    segs = {"a": [], "b": []}
    for c, (ch, key) in enumerate(zip(chans, ("a", "b"), strict=True)):
        for off, u in placed[c]:
            lo = max(0.0, u.segs[0][0] - PAD_S)
            hi = min(u.x.shape[0] / SR, u.segs[-1][1] + PAD_S)
            clip = u.x[int(lo * SR):int(hi * SR)].copy()
            ramp = min(160, clip.shape[0] // 4)
            w = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, ramp))
            clip[:ramp] *= w
            clip[-ramp:] *= w[::-1]
            i0 = int(round((off + lo) * SR))
            ch[i0:i0 + clip.shape[0]] += clip[:max(0, n - i0)]
            segs[key].extend((round(off + a, 3), round(off + b, 3)) for a, b in u.segs)
    return Dialogue(name, tuple(chans), segs, round(dur, 3),
                    ([u for _, u in placed[0]], [u for _, u in placed[1]]),
                    ([o for o, _ in placed[0]], [o for o, _ in placed[1]]))


# ----------------------------------------------------------------------------- conditions


def speech_level_db(x: np.ndarray, segs) -> float:
    """Mean power (dB) over the truth IPUs: the channel's active speech level."""
    parts = [x[int(a * SR):int(b * SR)] for a, b in segs]
    p = np.concatenate(parts).astype(np.float64)
    return float(10 * np.log10(np.mean(p ** 2) + 1e-12))


def fit_noise(noise: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` samples of a noise recording from a random start, looped with 20 ms cross-fades."""
    fade = 320
    w = np.linspace(0, 1, fade, dtype=np.float32)
    out = noise[int(rng.integers(0, max(1, noise.shape[0] - SR))):]
    while out.shape[0] < n:
        out = np.concatenate([out[:-fade], out[-fade:] * (1 - w) + noise[:fade] * w, noise[fade:]])
    return out[:n].astype(np.float32)


def at_snr(noise: np.ndarray, level_db: float, snr_db: float) -> np.ndarray:
    p = 10 * np.log10(np.mean(noise.astype(np.float64) ** 2) + 1e-20)
    return (noise * 10 ** ((level_db - snr_db - p) / 20)).astype(np.float32)


def pink(n: int, rng) -> np.ndarray:
    """Pink noise (Voss-McCartney-like via a 1/f-shaped filter on white noise)."""
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1, -2.494956002, 2.017265875, -0.522189400]
    return lfilter(b, a, rng.standard_normal(n + 2000))[2000:].astype(np.float32)


def room_tone_bed(utts: list, n: int, rng) -> np.ndarray:
    """The recordings' own material outside their truth IPUs (breaths and lip noise included).

    A channel whose recordings hold less than ``BED_MIN_S`` of that material (sentences cut tight
    at their speech: ARCTIC ksp, bdl and slt, NOIZEUS, TIMIT; 0.2-2.5 s per channel against 6-23 s
    for FDA, PTDB-TUG and ARCTIC jmk) takes only the stretches of it at the recordings' floor
    (every 1 ms frame within ``BED_FLOOR_DB`` of the 10th percentile of its frames, ``bed_ref_db``:
    the truth's floor until round 3, kept for the bed because the quietest 100 ms of the truth's
    new floor lies 4-7 dB under ARCTIC ksp's own recording noise, so a bed at that floor made the
    noise in each clip's 100 ms pad a step up, an onset every system heard 100-150 ms early;
    runs of 50 ms or more). Issue
    15's turn-timing check (``--dump``) found why: that little material is mostly the decay of
    speech tails and the rise of onsets just under the truth threshold (``N + 12`` dB; the median
    frame of three of the six NOIZEUS beds lay 6-10 dB over its recordings' floor) and, in ARCTIC
    ksp, sounds peaking 19-20 dB under the speech level (no vowel by the truth rule); looped over a
    30-130 s dialogue, each came back every 0.2-2.5 s, right after truth IPU ends and before
    onsets. Speech the truth calls silence moved the system's IPU edges: on held-out clean
    prosync's IPUs started up to 250 ms early and ended up to 180 ms late at floor transfers (FTO
    p90 199 ms; 122 ms with this bed), an error of the bench, not of the systems.
    """
    def parts_of(floor_only: bool) -> list:
        parts = []
        for u in utts:
            keep = np.ones(u.x.shape[0], bool)
            keep[:800] = keep[-800:] = False  # FDA files open with a click: not room tone
            if floor_only:  # the 1 ms frames of truth_segments, sample by sample
                e = energy_db(u.x, 16, 160)
                keep[:e.shape[0] * 16] &= np.repeat(e <= u.bed_ref_db + BED_FLOOR_DB, 16)
            for a, b in u.segs:
                keep[max(0, int((a - 0.03) * SR)):int((b + 0.03) * SR)] = False
            for a, b in runs(keep):
                m = 80 if floor_only else 160
                if b - a > (0.05 if floor_only else 0.1) * SR:
                    parts.append(u.x[a + m:b - m] * 10 ** (-(u.level_db - utts[0].level_db) / 20))
        return parts

    parts = parts_of(False)
    if sum(p.shape[0] for p in parts) < BED_MIN_S * SR:
        parts = parts_of(True)
    return fit_noise(np.concatenate(parts), n, rng)


def cross_talk(x: np.ndarray, other: np.ndarray, rng, gain_db=-18.0) -> np.ndarray:
    delay = int(rng.integers(16, 49))  # 1-3 ms
    sos = butter(2, 3000, "low", fs=SR, output="sos")
    bleed = sosfilt(sos, other).astype(np.float32) * 10 ** (gain_db / 20)
    out = x.copy()
    out[delay:] += bleed[:-delay]
    return out


def telephone(x: np.ndarray) -> np.ndarray:
    sos = butter(4, [300, 3400], "band", fs=SR, output="sos")
    return soxr.resample(sosfilt(sos, x).astype(np.float32), SR, 8000, "HQ").astype(np.float32)


CONDITIONS = ("clean", "cross-talk", "pink 20 dB", "pink 10 dB", "real noise 15 dB", "room tone",
              "quiet second speaker", "telephone")
#: Harder conditions, not in the default run (``--conditions "pink 5 dB,pink 0 dB"``): where a rule
#: set in dB over the noise breaks. Seeded after :data:`CONDITIONS`, so the default run's draws
#: stay as they were.
MORE_CONDITIONS = ("pink 5 dB", "pink 0 dB")


def apply_condition(cond: str, d: Dialogue, noises: list, rng):
    """The two channels of dialogue ``d`` under ``cond``, and their sample rate."""
    n = d.clean[0].shape[0]
    lv = [speech_level_db(d.clean[0], d.segs["a"]), speech_level_db(d.clean[1], d.segs["b"])]
    beds = [room_tone_bed(d.utts[i], n, rng) for i in range(2)]
    if cond == "room tone":  # the bed's median frame level 35 dB under the speech level
        for i in range(2):
            med = float(np.median(energy_db(beds[i], 160, 400)))
            beds[i] = (beds[i] * 10 ** ((lv[i] - 35.0 - med) / 20)).astype(np.float32)
    # every condition: the recordings' own room tone goes on between the clips
    a, b = d.clean[0] + beds[0], d.clean[1] + beds[1]
    if cond in ("clean", "room tone"):
        return (a, b), SR
    if cond == "cross-talk":
        return (cross_talk(a, b, rng), cross_talk(b, a, rng)), SR
    if cond.startswith("pink"):
        snr = float(cond.split()[1])
        return tuple(x + at_snr(pink(n, rng), lv[i], snr) for i, x in enumerate((a, b))), SR
    if cond.startswith("real noise"):
        out = []
        for i, x in enumerate((a, b)):
            nz = noises[int(rng.integers(len(noises)))]
            out.append(x + at_snr(fit_noise(nz[1], n, rng), lv[i], 15.0))
        return tuple(out), SR
    if cond == "quiet second speaker":
        return (a, (b * 10 ** (-20 / 20)).astype(np.float32)), SR
    if cond == "telephone":
        return (telephone(a), telephone(b)), 8000
    raise ValueError(cond)
