"""Power of the synchrony tests on real voices with planted coupling.

    nice -n 5 python bench/bench_sync_power.py [--quick] [--dialogues 12] [--weak] [--as-laid-out]

Pseudo-dialogues of two real people (``bench/sync_data.py``: FDA, ARCTIC and NOIZEUS clean
sentences in alternating turns, 5 minutes) are rendered again with the follower's
sentences resynthesised by WORLD (``pyworld``: DIO + StoneMask F0, CheapTrick, D4C, 5 ms
frames), the F0 of every frame moved so that it follows the leader's:

    f0_follower'(t) = f0_follower(t) * 2 ** (beta * sd_st * d(t - lag) / 12)

``d``: the leader's F0 in semitones from their median (WORLD's track of the original
sentences), through unvoiced and silent stretches the mean of their last utterance (the level
the partner heard last), smoothed over 0.3 s and standardised; ``sd_st``: the follower's own
F0 spread in semitones; ``beta = rho / sqrt(1 - rho**2)``, so that the follower's F0
correlates about ``rho`` with the leader's F0 ``lag`` seconds earlier (the correlation
reached on the follower's voiced frames is measured and
reported). ``rho`` is calibrated dialogue by dialogue (:func:`calibrate`) so that the engine's
series reach the target r above the same dialogue's unplanted r: that is the strength. Positive
lag: the second speaker follows; a negative lag plants the first speaker following the second,
in the dialogue mirrored (the speakers swap channels), so that every lag has the same leaders
(the second channel's people are mostly NOIZEUS's 5-sentence pools: ``--as-laid-out`` measures
them leading). The null condition is the same resynthesis with the F0 unchanged, so
WORLD's own traces are in both. Energy coupling is planted the same way as a gain on the
follower's samples following the leader's frame energy in dB.

Each rendering goes once through ``prosync.Session`` (live defaults); the tests are computed on
the first 1 to 5 minutes of its series: the engine's session test
(:func:`prosync.engine.session_sync.session_test`, p <= 0.05) for the live and research presets and
variants, the share of windows with z > 1.96, and rMEA's pseudo-dyad procedure on the same
sessions (grand average |Fisher z|, 30 s windows, ±5 s, 10 s step, ranked among the session's
pseudo-dyads with every other session of the same condition, p <= 0.05). Both tests' rates on
the null condition are their false-positive rates; power is also given at the threshold that
gives each test a 5 % false-positive rate on the null sessions (same FPR).

Writes ``bench/results/sync_power.md`` (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import math
import sys
import time
from pathlib import Path

import numpy as np
import pyworld as pw

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for _shared

from _shared import RESULTS, shared_data  # noqa: E402
from bench_sync_null import rate_cell  # noqa: E402
from sync_data import SR, cached, dialogue_layout, render, run_pair, speaker_pools  # noqa: E402

from prosync.engine.config import SyncConfig  # noqa: E402
from prosync.engine.pseudo import grand_average  # noqa: E402
from prosync.engine.session_sync import session_test, significant  # noqa: E402
from prosync.native.surrogate import hold_runs, pooled_profiles  # noqa: E402

OUT = RESULTS / "sync_power.md"
NOTE = ("\nNote: with {n} sessions per condition a session's pseudo-dyads are its 2 x ({n} - 1) "
        "pairings with the others, so rMEA's rank p is at least {pmin:.3f}{tail}; the session test "
        "needs no other sessions.\n")
NOTE_FLOOR = (": it cannot reach p <= 0.05 here, and its 0 % is that floor, not a measured "
              "power (a corpus of at least 11 sessions is needed)")
NOTE_OK = (": a session must beat every one of its pseudo-dyads to reach p <= 0.05 (the corpus "
           "size rMEA's test needs, at least 11)")
FP_MS = 5.0
LENGTHS_S = (60, 120, 180, 240, 300)
RMEA = dict(rate_hz=10.0, lag_s=5.0, window_s=30.0, step_s=10.0)
#: test name -> (settings, session statistic); the first is the engine's live session test
TESTS = {
    "live: whole-session r, ±2 s": (SyncConfig.preset("live"), "pooled"),
    "live: mean of 8 s windows (before)": (SyncConfig.preset("live"), "windows"),
    "research: whole-session r, ±5 s": (SyncConfig.preset("research"), "pooled"),
}
#: (feature, intended r, lag s); the first is the null
CONDS = [("f0", 0.0, 0.0), ("f0", 0.3, 0.5), ("f0", 0.3, 2.0), ("f0", 0.3, -2.0),
         ("energy", 0.3, 1.0)]
#: ``--weak``: the weak strengths (bench/results/sync_power_weak.md)
WEAK = [CONDS[0], ("f0", 0.2, 1.0), ("f0", 0.1, 1.0)]
#: The planting is calibrated dialogue by dialogue until the engine's r above the unplanted r
#: is within this share of the target, in at most ``STEPS`` renderings (:func:`calibrate`).
TOL = 0.1
STEPS = 3


class Voice:
    """One speaker's sentences, analysed once by WORLD."""

    def __init__(self, sents):
        self.sents = sents
        self._plain = {}
        self.world = []
        for s in sents:
            x = s.astype(np.float64)
            f0, t = pw.dio(x, SR, frame_period=FP_MS)
            f0 = pw.stonemask(x, f0, t, SR)
            self.world.append((f0, pw.cheaptrick(x, f0, t, SR), pw.d4c(x, f0, t, SR)))
        st = np.concatenate([12 * np.log2(w[0][w[0] > 0]) for w in self.world])
        self.median_st = float(np.median(st))
        self.sd_st = float(np.std(st))

    def synth(self, k, f0):
        _, sp, ap = self.world[k]
        return pw.synthesize(f0, sp, ap, SR, frame_period=FP_MS).astype(np.float32)

    def plain(self, k):
        """Sentence ``k`` resynthesised with its own F0 (once)."""
        if k not in self._plain:
            self._plain[k] = self.synth(k, self.world[k][0])
        return self._plain[k]


def leader_f0_track(voice: Voice, layout, who, n_frames):
    """The leader's F0 (semitones from their median) on a 5 ms grid, NaN where unvoiced."""
    tr = np.full(n_frames, np.nan)
    for w, k, t in layout:
        if w != who:
            continue
        f0 = voice.world[k][0]
        i0 = int(round(t / SR * 1000 / FP_MS))
        m = min(len(f0), n_frames - i0)
        if m <= 0:
            continue
        seg = np.where(f0[:m] > 0, 12 * np.log2(np.maximum(f0[:m], 1e-9)) - voice.median_st, np.nan)
        tr[i0:i0 + m] = np.where(np.isfinite(seg), seg, tr[i0:i0 + m])
    return tr


def leader_energy_track(audio, n_frames):
    """The leader's frame energy in dB (5 ms frames), NaN below 40 dB under its loudest frame."""
    hop = int(SR * FP_MS / 1000)
    x = audio[:n_frames * hop].astype(np.float64)
    x = np.pad(x, (0, n_frames * hop - len(x)))
    e = 10 * np.log10(np.mean(x.reshape(n_frames, hop) ** 2, axis=1) + 1e-12)
    return np.where(e > e.max() - 40, e, np.nan)


def driver(track):
    """The leader's contour where it is defined; through its silences and unvoiced stretches
    the mean of its last utterance (runs joined across gaps up to 0.3 s), the level a partner
    hears last (Levitan & Hirschberg's turn-level view) and the level the engine's series
    holds; smoothed over 0.3 s. Standardised later, on the frames where it is applied."""
    v = np.array(track, dtype=np.float64)
    held = np.empty_like(v)
    hold_runs(v, len(v), int(300 / FP_MS), held)
    v = np.where(np.isfinite(held), held, np.nanmean(v))
    k = int(300 / FP_MS)
    return np.convolve(v, np.ones(k) / k, "same")


def engine_r(s, kind, lag_s, directed=True):
    """The planted strength as the engine sees it: the whole session's correlation of the two
    speakers' 10 Hz series (100 ms bins, last utterance mean held up to 4 s, speaker-relative)
    at the planted lag, on the pairs :func:`~prosync.engine.session_sync.session_test` uses (the
    follower's own values against the leader's, held or not); ``directed=False``: every
    complete pair."""
    a, b = np.ascontiguousarray(s["a"][kind]), np.ascontiguousarray(s["b"][kind])
    ones = np.ones(len(a))
    own = [np.isfinite(s[k + "_raw"][kind]).astype(float) if directed else ones for k in "ab"]
    lag = int(round(abs(lag_s) * 10))
    prof = np.empty((1, 2 * lag + 1))
    cnt = np.empty((1, 2 * lag + 1))
    pooled_profiles(a, b, own[0], own[1], lag, np.zeros(1, np.int64), prof, cnt)
    return float(prof[0, lag + int(round(lag_s * 10))])


def plant(voices, layout, seconds, rng_seed, kind, rho, lag_s):
    """Render the dialogue with the follower's sentences resynthesised (``kind`` "f0" or
    "energy", strength ``rho``, ``lag_s``: positive = speaker 1 follows speaker 0). Returns
    both channels and the correlation reached on the follower's frames (voiced frames for F0)
    between its planted contour and the driver."""
    n_frames = int(seconds * 1000 / FP_MS) + 1
    lead, fol = (0, 1) if lag_s >= 0 else (1, 0)
    lag_fr = int(round(abs(lag_s) * 1000 / FP_MS))
    beta = rho / math.sqrt(1 - rho * rho)
    plain = [[None] * len(v.sents) for v in voices]
    for w, k, _ in layout:
        if plain[w][k] is None:
            plain[w][k] = voices[w].plain(k)
    if kind == "energy" and rho > 0:
        lead_audio = render(layout, tuple(plain), seconds, np.random.default_rng(rng_seed))[lead]
        d = driver(leader_energy_track(lead_audio, n_frames))
        sd = 6.0  # dB: a speaker's spread of frame energy in speech, about
    else:
        d = driver(leader_f0_track(voices[lead], layout, lead, n_frames))
        sd = voices[fol].sd_st
    # the driver standardised on the frames it moves (the follower's voiced frames, lagged):
    # standardised over the whole session instead, the held levels have less spread than the
    # leader's own contours and the planted r falls to about half the intended one
    where = []
    for w, k, t in layout:
        if w == fol:
            f0 = voices[w].world[k][0]
            i0 = int(round(t / SR * 1000 / FP_MS))
            idx = np.clip(np.arange(len(f0)) + i0 - lag_fr, 0, n_frames - 1)
            where.append(idx[f0 > 0] if kind == "f0" else idx)
    on = np.concatenate(where)
    d = (d - d[on].mean()) / d[on].std()
    sents = [list(p) for p in plain]
    out_layout, truth_x, truth_y = [], [], []
    for w, k, t in layout:
        if w != fol or rho == 0:
            out_layout.append((w, k, t))
            continue
        f0, _, _ = voices[w].world[k]
        i0 = int(round(t / SR * 1000 / FP_MS))
        idx = np.clip(np.arange(len(f0)) + i0 - lag_fr, 0, n_frames - 1)
        shift = beta * sd * d[idx]
        if kind == "f0":
            new = np.where(f0 > 0, f0 * 2 ** (shift / 12), 0.0)
            y = voices[w].synth(k, new)
            v = f0 > 0
            truth_x.append(d[idx][v])
            truth_y.append(12 * np.log2(new[v]))
        else:
            y = plain[w][k].copy()
            hop = int(SR * FP_MS / 1000)
            g = 10 ** (np.interp(np.arange(len(y)) / hop, np.arange(len(shift)), shift) / 20)
            y = (y * g).astype(np.float32)
        sents[w].append(y)
        out_layout.append((w, len(sents[w]) - 1, t))
    a, b = render(out_layout, tuple(sents), seconds, np.random.default_rng(rng_seed))
    r_frames = math.nan
    if truth_x:
        r_frames = float(np.corrcoef(np.concatenate(truth_x), np.concatenate(truth_y))[0, 1])
    return a, b, r_frames


def rmea_pseudo_p(series, feature, n):
    """Per session: rank p of its grand average among its pseudo-dyads (its a with every other
    session's b and every other a with its b), first ``n`` samples."""
    m = len(series)
    ga = np.full((m, m), np.nan)
    for i in range(m):
        for j in range(m):
            try:
                ga[i, j] = grand_average(series[i]["a"][feature][:n], series[j]["b"][feature][:n],
                                         **RMEA)
            except Exception:  # noqa: BLE001  (no window)
                pass
    ps = []
    for i in range(m):
        null = np.concatenate([np.delete(ga[i], i), np.delete(ga[:, i], i)])
        null = null[np.isfinite(null)]
        ok = math.isfinite(ga[i, i]) and len(null)
        ps.append((1 + np.sum(null >= ga[i, i])) / (1 + len(null)) if ok else math.nan)
    return np.array(ps)


def mirror(s):
    """A session with its two speakers swapped (the first speaker's series become the second's)."""
    out = dict(s)
    out["a"], out["b"], out["a_raw"], out["b_raw"] = s["b"], s["a"], s["b_raw"], s["a_raw"]
    return out


#: ``[False]`` (``--as-laid-out``): negative lags not mirrored, the second channel's person leads
MIRROR = [True]


def unplanted_r(s, kind, lag_s):
    """The engine's r at ``lag_s`` of a null session as the planted ones at that lag lay it
    out (mirrored at negative lags: :func:`render_run`)."""
    return engine_r(s if lag_s >= 0 or not MIRROR[0] else mirror(s), kind, lag_s)


def render_run(voices, pair, lay, seconds, seed, cond):
    """One planted dialogue through ``prosync.Session``: its series (cached, derived numbers
    only), the correlation reached on the frames and the engine's r at the planted lag. At a
    negative lag the dialogue is mirrored (the speakers change channels), so that the leader is
    the same person as at the positive lags and the first channel follows: the pools of the
    people on the second channel are NOIZEUS's 5 sentences, and as leaders (the old layout)
    they cost the -2 s condition a quarter of its power (bench/RESULTS.md)."""
    kind, rho, lag_s = cond

    def make():
        vs, layout = voices(), lay
        if lag_s < 0 and MIRROR[0]:
            vs, layout = vs[::-1], [(1 - w, k, t) for w, k, t in lay]
        a, b, r_frames = plant(vs, layout, seconds, seed, *cond)
        run = run_pair(a, b, True)
        return {"a": run["series"]["a"], "b": run["series"]["b"], "a_raw": run["series"]["a_raw"],
                "b_raw": run["series"]["b_raw"],
                "r_frames": r_frames}
    out = cached("power", make, pair, seed, cond, seconds, PLANT_SOURCE,
                 *(() if MIRROR[0] or lag_s >= 0 else ("as laid out",)))
    out["r_engine"] = engine_r(out, kind, lag_s) if rho else math.nan
    out["r_all_pairs"] = engine_r(out, kind, lag_s, directed=False) if rho else math.nan
    return out


#: The renderings' cache key: the planting's source (the engine's is in ``sync_data.cached``).
PLANT_SOURCE = hashlib.sha1("".join(inspect.getsource(f) for f in (
    Voice, leader_f0_track, leader_energy_track, driver, plant, render_run)).encode()).hexdigest()


def calibrate(dias, seconds, kind, target, lag_s, m0, start=None):
    """Each dialogue's planting strength (r on the frames) for ``target`` on the engine's
    series above the dialogue's unplanted r ``m0[i]``: a first guess (r on the frames = twice
    the target), then secant steps on ``beta`` (through ``beta = 0``, r 0 above unplanted, at
    the first step; at most doubled or halved per step) until the dialogue is within ``TOL``
    of the target, at most ``STEPS`` renderings; the rendering closest to the target is kept.
    ``start``: first guesses of ``beta`` per dialogue instead (the same feature's last
    condition, scaled to this target). Returns the strengths, their ``beta`` and the number of
    renderings."""
    def rho(beta):
        return beta / math.sqrt(1 + beta * beta)
    first = min(0.9, 2 * target)
    hist = [[] for _ in dias]
    beta = list(start) if start is not None else [first / math.sqrt(1 - first * first)] * len(dias)
    todo, n = list(range(len(dias))), 0
    for _ in range(STEPS):
        for i in todo:
            d = dias[i]
            s = render_run(d[0], d[1], d[2], seconds, d[3], (kind, rho(beta[i]), lag_s))
            hist[i].append((beta[i], s["r_engine"] - m0[i]))
        n += len(todo)
        nxt = []
        for i in todo:
            b1, r1 = hist[i][-1]
            if not math.isfinite(r1) or abs(r1 - target) <= TOL * target:
                continue
            b0, r0 = hist[i][-2] if len(hist[i]) > 1 else (0.0, 0.0)
            slope = (r1 - r0) / (b1 - b0) if b1 != b0 else math.nan
            if not slope > 0:  # not monotone between the last two: through beta = 0
                slope = r1 / b1
            if not (slope > 0 and r1 > 0.05):  # the planting does not reach the series
                continue
            beta[i] = min(max(b1 + (target - r1) / slope, 0.5 * b1), 2 * b1, 3.0)
            nxt.append(i)
        todo = nxt
        if not todo:
            break
    best = [min(h, key=lambda br: abs(br[1] - target) if math.isfinite(br[1]) else math.inf)[0]
            for h in hist]
    return [rho(b) for b in best], best, n


def shortest(p_by_len, lengths):
    """The shortest length whose share of p <= 0.05 is at least 80 %, as a cell."""
    for L in lengths:
        p = p_by_len[L]
        p = p[np.isfinite(p)]
        if len(p) and np.mean([significant(v) for v in p]) >= 0.8:
            return f"{L / 60:g} min"
    return "> %g min" % (lengths[-1] / 60)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 dialogues of 2 min; nothing written")
    ap.add_argument("--dialogues", type=int, default=12)
    ap.add_argument("--weak", action="store_true",
                    help="the null and F0 r = 0.2 and 0.1 only; writes "
                         "bench/results/sync_power_weak.md")
    ap.add_argument("--as-laid-out", action="store_true",
                    help="the null and F0 r = 0.3 at -2 s with the dialogues not mirrored (the "
                         "second channel's person, mostly NOIZEUS's 5-sentence pools, leads); "
                         "nothing written")
    ap.add_argument("--conditions", type=int, default=len(CONDS),
                    help="the first N conditions only (development); nothing written")
    args = ap.parse_args(argv)
    root = shared_data()
    t0 = time.perf_counter()
    n_d = 3 if args.quick else args.dialogues
    seconds = 120.0 if args.quick else float(LENGTHS_S[-1])
    lengths = [L for L in LENGTHS_S if L <= seconds]
    pools = speaker_pools(root)
    names = [k for k, v in pools.items() if len(v) >= 3]
    rng = np.random.default_rng(29)
    pairs = [(p, q) for i, p in enumerate(names) for q in names[i + 1:]]
    rng.shuffle(pairs)
    voices = {}
    conds = CONDS[:3] if args.quick else WEAK if args.weak else CONDS[:args.conditions]
    if args.as_laid_out:
        MIRROR[0] = False
        conds = [CONDS[0], ("f0", 0.3, -2.0)]
    dias = []
    for k in range(n_d):
        p, q = pairs[k % len(pairs)]

        def vs(p=p, q=q):
            for nm in (p, q):
                if nm not in voices:
                    voices[nm] = Voice(pools[nm])
            return voices[p], voices[q]
        lay = dialogue_layout(pools[p], pools[q], seconds, rng)
        dias.append((vs, (p, q, k), lay, int(rng.integers(1 << 31))))
    results, planted, null_r, steps, last = {}, {}, {}, {}, {}
    for c in conds:
        kind, target, lag_s = c
        if target > 0:
            m0 = np.array([unplanted_r(s, kind, lag_s) for s in results[conds[0]]])
            m0 = np.where(np.isfinite(m0), m0, np.nanmean(m0))
            null_r[c] = float(np.mean(m0))
            start = None
            if kind in last:  # the same feature's last condition, scaled to this target
                start = [b * target / last[kind][1] for b in last[kind][0]]
            rhos, betas, steps[c] = calibrate(dias, seconds, kind, target, lag_s, m0, start)
            last[kind] = (betas, target)
        else:
            rhos = [0.0] * len(dias)
        planted[c] = rho = float(np.mean(rhos))
        results[c] = [render_run(d[0], d[1], d[2], seconds, d[3], (kind, rhos[i], lag_s))
                      for i, d in enumerate(dias)]
        print(f"{c}: frames r {rho:.2f}, engine r "
              f"{np.nanmean([s['r_engine'] for s in results[c]]):.2f} "
              f"(null {null_r.get(c, math.nan):+.2f}; renderings {steps.get(c, 0)}) at "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    lines = ["# Power on real voices with planted coupling (`python bench/bench_sync_power.py`)\n",
             f"{n_d} pseudo-dialogues of {seconds / 60:g} min (two different real people each, "
             "turns as in a conversation); the follower resynthesised by WORLD with its F0 (or "
             "energy) following the leader's at the given strength and lag; a test counts at "
             "p <= 0.05 (rank p-values). Cells: share of sessions detected, 95 % Wilson "
             "interval. Strength is "
             "defined on the engine's series: the r of the two speakers' series exactly as the "
             "engine bins them (100 ms bins, last utterance mean held up to 4 s, "
             "speaker-relative semitones or dB) over the whole session at the planted lag, on "
             "the pairs the session test reads (the follower's own values against the leader's, "
             "held or not; *on every pair*: all complete pairs). The "
             "strength is that r above the r of the same dialogue with nothing planted (at that "
             "lag), reached dialogue by dialogue: a first guess (r on the frames = twice the "
             "target, or the dialogue's strength in the same feature's previous condition), then "
             f"secant steps until within {100 * TOL:g} % of the target (at most "
             f"{STEPS} renderings, the closest kept); the r reached (mean ± sd over dialogues), the "
             "share of dialogues within that tolerance, the "
             "unplanted r and the r planted on the frames (mean over dialogues) are given. In "
             "turn-taking the engine's series hold each speaker's last level through the other's "
             "turn and the binning, the baselines and the tracker add their own noise, so the "
             "frames need more than the engine's r. At a negative lag the dialogue is mirrored (the "
             "speakers swap channels; the leader is the same person as at the positive lags). The "
             "null is the same resynthesis with nothing moved. Busy 2-core machine.\n"]
    pvals = {}
    for tname, (cfg, stat) in TESTS.items():
        for c in conds:
            feat = c[0]
            for L in lengths:
                n = int(L * 10)
                pvals[tname, c, L] = np.array([
                    session_test(s["a"][feat][:n], s["b"][feat][:n], cfg, statistic=stat,
                                 feature=feat, raw2=s["b_raw"][feat][:n] if feat in s["b_raw"] else None,
                                 raw1=s["a_raw"][feat][:n] if feat in s["a_raw"] else None).p
                    for s in results[c]])
    rmea = {(c, L): rmea_pseudo_p(results[c], c[0], int(L * 10)) for c in conds for L in lengths}
    null = conds[0]
    first = next(iter(TESTS))
    for c in conds:
        re = np.array([s["r_engine"] for s in results[c]])
        rf = np.nanmean([s["r_frames"] for s in results[c]])
        ra = np.nanmean([s["r_all_pairs"] for s in results[c]])
        up = re - np.array([unplanted_r(s, c[0], c[2]) for s in results[null]])
        within = int(np.sum(np.abs(up - c[1]) <= TOL * c[1] + 1e-9))
        title = ("null (WORLD resynthesis, nothing moved)" if c[1] == 0 else
                 f"{c[0]} coupling at lag {c[2]:+g} s: r {c[1]:g} on the engine's series "
                 f"(reached {np.nanmean(up):.2f} ± {np.nanstd(up):.2f} above the same dialogues "
                 f"with nothing planted, {within}/{len(up)} within ±{100 * TOL:g} %; the engine's "
                 f"r {np.nanmean(re):.2f}, unplanted {null_r[c]:+.2f}; on every pair "
                 f"{ra:.2f}; planted on the frames {planted[c]:.2f}, reached there {rf:.2f})")
        lines += [f"### {title}\n", "| test | " + " | ".join(f"{L / 60:g} min" for L in lengths)
                  + " |", "|---|" + "---|" * len(lengths)]
        for tname in TESTS:
            cells = []
            for L in lengths:
                p = pvals[tname, c, L]
                ok = np.isfinite(p)
                cells.append(rate_cell(int(np.sum(p[ok] <= 0.05)), int(ok.sum())))
            lines.append(f"| session test, {tname} | " + " | ".join(cells) + " |")
        cells = []
        for L in lengths:
            p = rmea[c, L]
            ok = np.isfinite(p)
            cells.append(rate_cell(int(np.sum(p[ok] <= 0.05)), int(ok.sum())))
        lines.append("| rMEA pseudo-dyads (30 s, ±5 s, 10 s) | " + " | ".join(cells) + " |")
        if c == null:
            # the test's two directions alike: the same null sessions with the speakers swapped
            cfg, stat = TESTS[first]
            n = int(lengths[-1] * 10)
            sw = np.array([session_test(m["a"][c[0]][:n], m["b"][c[0]][:n], cfg, statistic=stat,
                                        feature=c[0], raw2=m["b_raw"][c[0]][:n], raw1=m["a_raw"][c[0]][:n]).p
                           for m in map(mirror, results[c])])
            same = np.isclose(sw, pvals[first, c, lengths[-1]], equal_nan=True)
            lines += ["", f"The same null sessions with the speakers swapped: the {first.split(':')[0]} "
                      f"session test's p at {lengths[-1] / 60:g} min is the same in "
                      f"{int(same.sum())}/{len(same)}."]
        else:
            cells = []
            for L in lengths:
                # same FPR: each test's threshold at the 5th percentile of its null p-values
                out = []
                for pv, pn in ((pvals[first, c, L], pvals[first, null, L]),
                               (rmea[c, L], rmea[null, L])):
                    pn = pn[np.isfinite(pn)]
                    thr = min(0.05, np.quantile(pn, 0.05)) if len(pn) else 0.05
                    pv = pv[np.isfinite(pv)]
                    out.append(f"{100 * np.mean(pv <= thr):.0f} %" if len(pv) else "n/a")
                cells.append(" / ".join(out))
            lines.append(f"| at the same FPR: {first.split(':')[0]} session test / rMEA | "
                         + " | ".join(cells) + " |")
            m0 = [unplanted_r(s, c[0], c[2]) for s in results[null]]
            pl = pvals[first, c, lengths[-1]]
            lines += ["", "Dialogue by dialogue (leader's voice: the engine's r above the same "
                      f"dialogue unplanted; live p at {lengths[-1] / 60:g} min): " + ", ".join(
                          f"{d[1][0 if c[2] >= 0 or MIRROR[0] else 1]} {s['r_engine'] - r0:+.2f} ({p:.2f})"
                          for d, s, r0, p in zip(dias, results[c], m0, pl, strict=True))]
        lines.append("")
    lines += ["### Shortest session detected with 80 % power (p <= 0.05)\n",
              "| condition | r reached (engine, above unplanted) | " + " | ".join(TESTS)
              + " | rMEA pseudo-dyads |",
              "|---|---:|" + "---|" * (len(TESTS) + 1)]
    for c in conds[1:]:
        cells = [shortest({L: pvals[t, c, L] for L in lengths}, lengths) for t in TESTS]
        cells.append(shortest({L: rmea[c, L] for L in lengths}, lengths))
        up = np.nanmean([s["r_engine"] - unplanted_r(s0, c[0], c[2])
                         for s, s0 in zip(results[c], results[null], strict=True)])
        lines.append(f"| {c[0]}, target r = {c[1]:g}, lag {c[2]:+g} s | {up:.2f} "
                     f"(nothing planted {null_r[c]:+.2f}) | "
                     + " | ".join(cells) + " |")
    pmin = 1 / (2 * (n_d - 1) + 1)
    lines.append(NOTE.format(n=n_d, pmin=pmin, tail=NOTE_FLOOR if pmin >= 0.05 else NOTE_OK))
    lines.append(f"\nTotal {time.perf_counter() - t0:.0f} s.\n")
    print("\n".join(lines))
    if args.weak:
        (RESULTS / "sync_power_weak.md").write_text("\n".join(lines))
    elif not args.quick and not args.as_laid_out and len(conds) == len(CONDS):
        OUT.write_text("\n".join(lines))
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
