"""False-positive rates of every synchrony statistic prosync emits, on real speech that never
interacted.

    nice -n 5 python bench/bench_sync_null.py [--quick | --session-only | --diagnose]
        [--pseudo 150] [--windowed 36]

Null sets (``bench/sync_data.py`` builds the speakers' series once, through ``prosync.Session``):

* **real, shifted**: the real two-party recordings in ``../shared/data`` (CANDOR ``shift`` and
  ``hold``, the phone call and all 12 AMI excerpts split by their RTTMs, a second pair of
  speakers where there is one) put end to end (about 9 minutes); one side's series circularly
  shifted against the other's by each of 40 offsets from 38 to 262 s (``REAL_OFFSETS``; each
  side in turn), and cut into 100 s sessions: 400 sessions. Each side of a session is the
  recordings' speakers one after another (most recordings last 30 s), not one voice.
  Each voice keeps its own dynamics and the speech/silence structure of a
  real conversation; the pairing in time is broken.
* **pseudo, turn-taking**: dialogues of two different people (FDA, ARCTIC, NOIZEUS
  clean) laid out in alternating turns. Their F0, energy and rate never interacted; their voice
  activity *did* (the layout alternates them), so voice activity is not a null there and is
  reported apart.
* **pseudo, shifted**: the same dialogues with the second side shifted by 60 and 150 s: a null
  for every feature.

150 pseudo-dialogues (``--pseudo``; the first 36 are the earlier set): the session test runs on
all of them, the window rows and what is made from them (window z, the earlier session
statistic, the binomial count, pseudo-dyads, TAMA, L&H: the slow part) on the first 36
(``--windowed``), so that the full run stays within about 25 minutes on a busy 2-core machine.

Statistics: the window ``z`` of every ``SyncRow`` (``z > 1.96`` = significant at 2.5 %, per
feature); the session test (``summary.json`` ``session_p``: the whole session's directed lagged
r against surrogates) and the same with each speaker's warm-up left out
(``session_test(warm_up=True)``, ``session_sync.WARM_UP_S``; not the engine's default), next
to the earlier statistic (the mean of the windows' lag profiles, same surrogates) and the count
of significant windows read as independent (a binomial test at 5 %, what a reader of
"significant windows" might do); the pseudo-dyad test of rMEA
(``engine/pseudo.py``: the session's grand average |Fisher z| ranked among its pseudo-dyads with
the other sessions of the set, p < 0.05; and Cohen's d of the set); TAMA (Kousidis et al. 2008,
20 s frames, 10 s step) and Levitan & Hirschberg (proximity, convergence, synchrony, both
directions), each with its textbook p (TAMA: r at lag 0 with the usual t test) and with the
calibrated p that ``summary.json`` now reports (``engine/entrain_null.py``).

Intervals: 95 % Wilson on an effective number of units that accounts for their dependence
(:class:`Tally`): units are grouped in clusters that share audio (the real set: the unshifted
side's 100 s, each met by 9 shifts of the other side; a pseudo-dialogue and its shifted
copies; a session's windows), and the effective number is ``p(1 - p) / Var(p)`` with the
variance taken from the spread of the clusters' hits, never more than the units nor fewer
than the clusters (the clusters alone when nothing was hit). The real set is every real
conversation in ``../shared/data`` (about 9 minutes of two-party speech), used both ways
round.

Writes ``bench/results/sync_null.md`` (``--quick``: fewer sessions, not written).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for _shared

from _shared import RESULTS, shared_data  # noqa: E402
from sync_data import pseudo_sessions, real_sessions  # noqa: E402

from prosync.calibration.baseline import SpeakerBaseline  # noqa: E402
from prosync.engine import synchrony as _sync  # noqa: E402
from prosync.engine.config import SyncConfig  # noqa: E402
from prosync.engine.entrain_null import lh_p, tama_p  # noqa: E402
from prosync.engine.entrainment import IPU, levitan_hirschberg, tama, turns_from_ipus  # noqa: E402
from prosync.engine.pseudo import cohens_d, grand_average  # noqa: E402
from prosync.engine.session_sync import UNCALIBRATED, session_test, significant  # noqa: E402
from prosync.engine.summary import ENTRAINMENT_FEATURES, _zscored  # noqa: E402
from prosync.engine.synchrony import FEATURES, SynchronyTracker  # noqa: E402
from prosync.native.surrogate import find_runs, hold_runs, rotate_runs  # noqa: E402

OUT = RESULTS / "sync_null.md"
RATE = 10
SEG_S = 100
TAMA_FEATURES = ("f0_mean_hz", "energy_mean_db", "rate_sps")
LH_FEATURES = ("f0_mean_hz", "energy_mean_db", "rate_sps")
RAW = FEATURES[:3]  # features whose session test rotates the second speaker's runs
PSEUDO_KW = dict(rate_hz=RATE, lag_s=2.0, window_s=8.0, step_s=1.0)
#: Shifts of the real set (s): in every 30 s block from 30 s to half the ~540 s of real speech
#: put end to end (beyond half, each side in turn repeats an alignment), at 8, 12, 15, 18 and
#: 22 s into it, away from the multiples of 30 s where most AMI excerpts start (so no
#: excerpt's start, its baseline warm-up or leading silence, lines up with another's). The
#: earlier set: 8 and 22 s, up to 158 s.
REAL_OFFSETS = [30 * k + d for k in range(1, 9) for d in (8, 12, 15, 18, 22)]
#: The earlier shifts: the real sessions whose window-level statistics are computed.
REAL_WINDOWED = [38, 52, 68, 82, 98, 112, 128, 142, 158]
#: Shifts of the second side of a pseudo-dialogue (s).
PSEUDO_OFFSETS = [60, 150]
#: Pseudo-dialogues in the null sets, and those whose window-level statistics are computed.
PSEUDO_N = 150
WINDOWED_N = 36


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def rate_cell(k: int, n: int) -> str:
    if n == 0:
        return "n/a"
    lo, hi = wilson(k, n)
    return f"{100 * k / n:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}] ({k}/{n})"


class Tally:
    """Hits per cluster of dependent units (sessions cut from the same audio, windows of one
    session): the rate with a 95 % Wilson interval on the effective number of units,
    ``p(1 - p) / Var(p)`` with ``Var(p)`` from the spread of the clusters' hits (the ratio
    estimator's cluster variance), between the number of clusters and of units; with no hit
    (no spread to measure) the clusters count as single units."""

    def __init__(self):
        self.c: dict = {}

    def add(self, cluster, k, n=1) -> None:
        v = self.c.setdefault(cluster, [0, 0])
        v[0] += int(k)
        v[1] += int(n)

    def cell(self) -> str:
        k = np.array([v[0] for v in self.c.values()], float)
        n = np.array([v[1] for v in self.c.values()], float)
        K, N, C = k.sum(), n.sum(), int(np.sum(n > 0))
        if N == 0:
            return "n/a"
        p = K / N
        var = C / max(C - 1, 1) * np.sum((k - p * n) ** 2) / N ** 2
        n_eff = p * (1 - p) / var if var > 0 else C
        n_eff = float(min(N, max(C, n_eff)))
        lo, hi = wilson(p * n_eff, n_eff)
        lo, hi = max(lo, 0.0), min(hi, 1.0)
        return (f"{100 * p:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}] ({int(K)}/{int(N)}; "
                f"{C} clusters, n_eff {n_eff:.0f})")


# ---------------------------------------------------------------------------- null sessions


def _shift_ipus(ipus, d_s, total_s):
    out = []
    for u in ipus:
        s, e = u.start_s + d_s, u.end_s + d_s
        if s >= total_s:
            s, e = s - total_s, e - total_s
        if e <= total_s:
            out.append(IPU(u.speaker, s, e, u.features))
    return out


def _cut(a, b, ipus, t0_s, t1_s, name):
    i0, i1 = int(round(t0_s * RATE)), int(round(t1_s * RATE))
    ip = [IPU(u.speaker, u.start_s - t0_s, u.end_s - t0_s, u.features) for u in ipus
          if u.start_s >= t0_s and u.end_s <= t1_s]
    return {"a": {f: a[f][i0:i1] for f in FEATURES}, "b": {f: b[f][i0:i1] for f in FEATURES},
            "a_raw": {f: a["raw_" + f][i0:i1] for f in RAW},
            "b_raw": {f: b["raw_" + f][i0:i1] for f in RAW}, "ipus": ip,
            "duration_s": t1_s - t0_s, "name": name}


def real_shifted(recs, offsets_s, both=True):
    """The real recordings end to end; one side circularly shifted by each offset; 100 s
    sessions. ``both``: each side in turn the shifted one (the second speaker of a session);
    a session's cluster is the unshifted side's 100 s of audio."""
    out = []
    for fixed, moved in (("a", "b"), ("b", "a"))[:2 if both else 1]:
        a = {f: np.concatenate([r["series"][fixed][f] for r in recs]) for f in FEATURES}
        b = {f: np.concatenate([r["series"][moved][f] for r in recs]) for f in FEATURES}
        for k, d in ((fixed, a), (moved, b)):
            d.update({"raw_" + f: np.concatenate([r["series"][k + "_raw"][f] for r in recs])
                      for f in RAW})
        ipus, t = [], 0.0
        for r in recs:
            ipus += [IPU({fixed: "a", moved: "b"}[u.speaker], u.start_s + t, u.end_s + t,
                         u.features) for u in r["ipus"] if u.speaker in ("a", "b")]
            t += r["duration_s"]
        n = len(a["vad"])
        total = n / RATE
        for d in offsets_s:
            k = int(round(d * RATE))
            bs = {f: np.roll(v, k) for f, v in b.items()}
            ip = [u for u in ipus if u.speaker == "a"] + _shift_ipus(
                [u for u in ipus if u.speaker == "b"], d, total)
            for s0 in range(0, int(total) - SEG_S + 1, SEG_S):
                out.append(dict(_cut(a, bs, ip, s0, s0 + SEG_S, f"real{fixed}+{d:g}s@{s0}"),
                                src=f"{fixed}@{s0}", offset=d))
    return out


def centred(recs):
    """The recordings with each speaker's series minus that speaker's mean over the recording
    (own values; voice activity too): each side of the real set is the recordings' speakers
    one after another, different people every 30 s or so, whose levels step at every
    boundary; a real session's side is one voice."""
    out = []
    for r in recs:
        ser = {k: dict(v) for k, v in r["series"].items()}
        for side in ("a", "b"):
            for f in FEATURES:
                src = ser[side + "_raw"][f] if f in RAW else ser[side][f]
                m = float(np.nanmean(src)) if np.isfinite(src).any() else 0.0
                ser[side][f] = ser[side][f] - m
                if f in RAW:
                    ser[side + "_raw"][f] = ser[side + "_raw"][f] - m
        out.append(dict(r, series=ser))
    return out


def pseudo_as_is(recs):
    return [{"a": r["series"]["a"], "b": r["series"]["b"], "a_raw": r["series"]["a_raw"],
             "b_raw": r["series"]["b_raw"],
             "ipus": r["ipus"],
             "duration_s": r["duration_s"], "name": r["name"], "src": r["name"]} for r in recs]


def pseudo_shifted(recs, offsets_s):
    out = []
    for r in recs:
        total = r["duration_s"]
        for d in offsets_s:
            k = int(round(d * RATE))
            ip = [u for u in r["ipus"] if u.speaker == "a"] + _shift_ipus(
                [u for u in r["ipus"] if u.speaker == "b"], d, total)
            out.append({"a": r["series"]["a"], "b": {f: np.roll(v, k) for f, v in r["series"]["b"].items()},
                        "a_raw": r["series"]["a_raw"],
                        "b_raw": {f: np.roll(v, k) for f, v in r["series"]["b_raw"].items()},
                        "ipus": ip, "duration_s": total, "name": f"{r['name']}+{d:g}s",
                        "src": r["name"]})
    return out


# ---------------------------------------------------------------------------- statistics


def window_rows(sess, cfg: SyncConfig):
    """The tracker's rows of one session, its series pushed 50 bins at a time."""
    tr = SynchronyTracker(cfg, [SpeakerBaseline(), SpeakerBaseline()])
    n = len(sess["a"]["vad"])
    rows = []
    for i in range(0, n, 50):
        vals = [{f: np.ascontiguousarray(sess[s][f][i:i + 50]) for f in FEATURES} for s in "ab"]
        for v, k in zip(vals, ("a_raw", "b_raw"), strict=True):
            v.update({"raw_" + f: sess[k][f][i:i + 50] for f in RAW})
        rows += tr.update(vals)
    rows += tr.flush()
    return tr, rows


def session_decisions(tr, rows, cfg):
    """feature -> (p of the earlier statistic (mean of the windows' lag profiles), naive
    binomial p of significant windows, window z's)."""
    out = {}
    for f in FEATURES:
        z = np.array([r.z for r in rows if r.feature == f])
        z = z[np.isfinite(z)]
        k = int(np.sum(z > 1.96))
        naive = float(stats.binomtest(k, len(z), 0.025, alternative="greater").pvalue) if len(z) else math.nan
        a, b, raw1, raw2 = tr.session_series(f)
        old = session_test(a, b, cfg, feature=f, raw2=raw2, raw1=raw1, statistic="windows",
                           guard=False, warm_up=False).p
        out[f] = (old, naive, z)
    return out


def session_only(sessions, cfg, seconds):
    """feature -> :class:`Tally` of the engine's session test (p <= 0.05) on the first
    ``seconds`` of each session (no window rows)."""
    n = int(seconds * RATE)
    out = {f: Tally() for f in FEATURES}
    for s in sessions:
        for f in FEATURES:
            raw = [s[k][f][:n] if f in s[k] else None for k in ("a_raw", "b_raw")]
            p = session_test(s["a"][f][:n], s["b"][f][:n], cfg, feature=f, raw1=raw[0],
                             raw2=raw[1], guard=False).p
            if math.isfinite(p):
                out[f].add(s["src"], significant(p))
    return out


def pseudo_p(sessions, feature):
    """(rank p per session, its cluster), Cohen's d: a session's grand average among its
    pseudo-dyads with the other sessions of the set (its a with their b, their a with its b;
    at most 24 others)."""
    ga = {}

    def g(i, j):
        if (i, j) not in ga:
            a, b = sessions[i]["a"][feature], sessions[j]["b"][feature]
            n = min(len(a), len(b))
            try:
                ga[i, j] = grand_average(a[:n], b[:n], **PSEUDO_KW)
            except Exception:  # noqa: BLE001  (too short: no value)
                ga[i, j] = math.nan
        return ga[i, j]

    ps, src, reals, pseudo = [], [], [], []
    m = len(sessions)
    rng = np.random.default_rng(3)
    for i in range(m):
        others = [j for j in range(m) if j != i and sessions[j]["src"] != sessions[i]["src"]]
        if len(others) > 24:
            others = list(rng.choice(others, 24, replace=False))
        real = g(i, i)
        null = np.array([g(i, j) for j in others] + [g(j, i) for j in others])
        null = null[np.isfinite(null)]
        if not math.isfinite(real) or len(null) < 19:
            continue
        reals.append(real)
        pseudo += list(null)
        ps.append((1 + np.sum(null >= real)) / (1 + len(null)))
        src.append(sessions[i]["src"])
    return (np.array(ps), src), cohens_d(reals, pseudo)


def tama_ps(sess, feature):
    """(textbook t test of TAMA's r at lag 0, shift p of TAMA's synchrony: summary.json)."""
    try:
        res = tama(sess["ipus"], feature, sess["duration_s"], speakers=("a", "b"))
    except Exception:  # noqa: BLE001  (too short for frames)
        return math.nan, math.nan
    cal = tama_p(res, "b", "a")
    r = res.r[("b", "a")][0]
    s = res.series
    n = int(np.sum(np.isfinite(s["a"].values) & np.isfinite(s["b"].values)))
    if not math.isfinite(r) or n < 5:
        return math.nan, cal
    r = min(abs(r), 0.999999)
    t = r * math.sqrt((n - 2) / (1 - r * r))
    return float(2 * stats.t.sf(t, n - 2)), cal


def lh_ps(sess):
    """(feature, measure, direction, "textbook" or "calibrated") -> p."""
    out = {}
    turns = turns_from_ipus(_zscored(sess["ipus"], ENTRAINMENT_FEATURES))
    for resp in ("a", "b"):
        try:
            lh = levitan_hirschberg(turns, LH_FEATURES, responder=resp)
        except Exception:  # noqa: BLE001
            continue
        for f, r in lh.items():
            cal = lh_p(turns, f, resp)
            for m in ("proximity", "convergence", "synchrony"):
                out[f, m, resp, "textbook"] = getattr(r, m).p
                out[f, m, resp, "calibrated"] = cal[m]
    return out


def spread_lines(pv: dict, nsur: dict) -> list[str]:
    """The session test's p-values beyond the 5 % tail: under the null the shares below 0.05,
    0.2 and 0.5 are about those values and the mean p about 0.5 (a rank p-value of ``n``
    surrogates: ``(n + 2) / (2 (n + 1))``)."""
    out = ["Session test p-values (engine's test; a calibrated test gives shares near 5 / 20 / "
           "50 % and a mean near 0.5):\n",
           "| feature | sessions with a p | p <= 0.05 | p <= 0.2 | p <= 0.5 | mean p | surrogates "
           "(median, min) |", "|---|---:|---:|---:|---:|---:|---|"]
    for f, ps in pv.items():
        ps = np.array(ps)
        if not len(ps):
            out.append(f"| {f} | 0 | | | | | |")
            continue
        out.append(f"| {f} | {len(ps)} | {100 * np.mean(ps <= 0.05):.1f} % | "
                   f"{100 * np.mean(ps <= 0.2):.1f} % | {100 * np.mean(ps <= 0.5):.1f} % | "
                   f"{ps.mean():.2f} | {np.median(nsur[f]):.0f}, {min(nsur[f])} |")
    out.append("")
    return out


def session_spread(name, sessions, cfg, features, lines):
    """The session test alone (no window rows): its p-value spread per feature."""
    pv = {f: [] for f in features}
    ns = {f: [] for f in features}
    for s in sessions:
        for f in features:
            raw = [s[k][f] if f in s[k] else None for k in ("a_raw", "b_raw")]
            t = session_test(s["a"][f], s["b"][f], cfg, feature=f, raw1=raw[0], raw2=raw[1],
                             guard=False)
            if math.isfinite(t.p):
                pv[f].append(t.p)
                ns[f].append(t.n_surrogates)
    lines += [f"### {name}: {len(sessions)} sessions\n", *spread_lines(pv, ns)]
    print("\n".join(lines[-(len(features) + 5):]), flush=True)


def session_ps(s, cfg, features, warm_up=False):
    """feature -> (p, surrogates) of the engine's session test on a whole session (what
    ``SynchronyTracker.session_test`` gives on the same series; every feature with the guard off,
    ``UNCALIBRATED``; ``warm_up=True``: each speaker's first values left out, ``WARM_UP_S``)."""
    out = {}
    for f in features:
        raw = [s[k][f] if f in s[k] else None for k in ("a_raw", "b_raw")]
        t = session_test(s["a"][f], s["b"][f], cfg, feature=f, raw1=raw[0], raw2=raw[1],
                         guard=False, warm_up=warm_up)
        out[f] = (t.p, t.n_surrogates)
    return out


def evaluate(name, sessions, cfg, features, lines, windowed=None):
    """Every statistic on ``sessions``; the window rows and everything made from them (window
    z, the earlier session statistic, the binomial count, pseudo-dyads, TAMA, L&H) on the
    subset ``windowed`` (default: all), the session test on all of them."""
    t0 = time.perf_counter()
    windowed = sessions if windowed is None else windowed
    win = {f: Tally() for f in features}
    ses = {f: Tally() for f in features}
    left = {f: Tally() for f in features}
    old = {f: Tally() for f in features}
    naive = {f: Tally() for f in features}
    pv = {f: [] for f in features}
    ns = {f: [] for f in features}
    for s in sessions:
        for f, (p, nsur) in session_ps(s, cfg, features).items():
            if math.isfinite(p):
                pv[f].append(p)
                ns[f].append(nsur)
                ses[f].add(s["src"], significant(p))
        for f, (p, _) in session_ps(s, cfg, features, warm_up=True).items():
            if math.isfinite(p):
                left[f].add(s["src"], significant(p))
    for s in windowed:
        tr, rows = window_rows(s, cfg)
        dec = session_decisions(tr, rows, cfg)
        for f in features:
            po, pn, z = dec[f]
            win[f].add(s["src"], np.sum(z > 1.96), len(z))
            for c, v, sig in ((old, po, significant(po)), (naive, pn, pn < 0.05)):
                if math.isfinite(v):
                    c[f].add(s["src"], sig)
    pseudo = {f: pseudo_p(windowed, f) for f in features}
    sub = ("" if windowed is sessions else
           f" (session test on all {len(sessions)}; every other column on the first "
           f"{len(windowed)})")
    lines += [f"### {name}: {len(sessions)} sessions of "
              f"{np.median([s['duration_s'] for s in sessions]):.0f} s{sub}\n",
              "| feature | window z > 1.96 (nominal 2.5 %) | session test p <= 0.05 | "
              "session test, warm-up left out (`warm_up=True`, not the default) | "
              "before: mean of windows' profiles | "
              "significant windows as independent (binomial p < 0.05) | pseudo-dyad p < 0.05 "
              "| pseudo-dyad Cohen's d |",
              "|---|---|---|---|---|---|---|---:|"]
    for f in features:
        (pp, src), d = pseudo[f]
        pd = Tally()
        for v, c in zip(pp, src, strict=True):
            pd.add(c, v < 0.05)
        lines.append(f"| {f} | {win[f].cell()} | {ses[f].cell()} | {left[f].cell()} | "
                     f"{old[f].cell()} | "
                     f"{naive[f].cell()} | {pd.cell()} | {d:+.2f} |")
    lines.append("")
    lines += spread_lines(pv, ns)
    tam = {(f, k): Tally() for f in TAMA_FEATURES for k in ("textbook", "calibrated")}
    lh: dict = {}
    for s in windowed:
        for f in TAMA_FEATURES:
            for k, p in zip(("textbook", "calibrated"), tama_ps(s, f), strict=True):
                if math.isfinite(p):
                    tam[f, k].add(s["src"], p < 0.05)
        for k, p in lh_ps(s).items():
            if math.isfinite(p):
                lh.setdefault((k[0], k[1], k[3]), Tally()).add(s["src"], p < 0.05)
    for kind, what in (("textbook", "textbook p (t tests: exchanges and frames as independent)"),
                       ("calibrated", "calibrated p (summary.json: shift surrogates, "
                        "`engine/entrain_null.py`)")):
        lines += [f"Turn-level measures, {what}:\n",
                  "| IPU feature | TAMA p < 0.05 | L&H proximity p < 0.05 | "
                  "L&H convergence p < 0.05 | L&H synchrony p < 0.05 |",
                  "|---|---|---|---|---|"]
        for f in TAMA_FEATURES:
            cells = [lh.get((f, m, kind), Tally()).cell()
                     for m in ("proximity", "convergence", "synchrony")]
            lines.append(f"| {f} | {tam[f, kind].cell()} | " + " | ".join(cells) + " |")
        lines.append("")
    print("\n".join(lines[-(2 * len(features) + 2 * len(TAMA_FEATURES) + 19):]),
          f"({time.perf_counter() - t0:.0f} s)", flush=True)


def evaluate_short(name, sets, cfg, seconds, lines):
    """The engine's session test on the first ``seconds`` of held-out sessions."""
    lines += [f"### {name}: the session test on the first {seconds} s\n",
              "| null set | sessions | " + " | ".join(FEATURES) + " |",
              "|---|---:|" + "---|" * len(FEATURES)]
    for sname, ss in sets:
        res = session_only(ss, cfg, seconds)
        lines.append(f"| {sname} | {len(ss)} | " + " | ".join(res[f].cell() for f in FEATURES)
                     + " |")
    lines.append("")
    print("\n".join(lines[-(len(sets) + 4):]), flush=True)


#: Memory of the running speech rate (s of speech; ``native/nuclei.py`` ``running_rate``).
RATE_MEMORY_S = 3.0
NVALID_BANDS = ((0, 40), (40, 60), (60, 81))


def diagnose_windows(real, recs, offs, psh, cfg):
    """Window z > 1.96 per feature: on the real set, windows whose reach (the window, the lags
    either way, and the rate's memory before it) holds a boundary between two of the
    recordings put end to end (either side, the shifted side's boundaries moved with it) vs
    windows clear of them; on the real and pseudo shifted sets, by the window's complete pairs
    at lag 0 (``n_valid``, of 80)."""
    cum = np.cumsum([0.0] + [r["duration_s"] for r in recs])
    total, bounds = cum[-1], cum[1:-1]
    near = {f: {k: [0, 0] for k in ("boundary", "clear")} for f in FEATURES}
    band = {(n, f): {b: [0, 0] for b in NVALID_BANDS} for n in ("real", "pseudo") for f in FEATURES}
    for set_name, ss in (("real", real), ("pseudo", psh)):
        for s in ss:
            tr, rows = window_rows(s, cfg)
            if set_name == "real":
                d = float(s["name"].split("+")[1].split("s@")[0])
                s0 = float(s["name"].split("@")[1])
                bb = np.concatenate([bounds, (bounds + d) % total, [d % total]])
            for r in rows:
                if not math.isfinite(r.z):
                    continue
                for lo, hi in NVALID_BANDS:
                    if lo <= r.n_valid < hi:
                        v = band[set_name, r.feature][lo, hi]
                        v[0] += r.z > 1.96
                        v[1] += 1
                if set_name == "real":
                    t0 = s0 + r.window_start_s - cfg.lag_s - RATE_MEMORY_S
                    t1 = s0 + r.window_start_s + cfg.window_s + cfg.lag_s
                    v = near[r.feature]["boundary" if np.any((bb > t0) & (bb < t1)) else "clear"]
                    v[0] += r.z > 1.96
                    v[1] += 1
    print("Window z > 1.96, real set: reach holds a recording boundary | clear of boundaries")
    for f in FEATURES:
        print(f"  {f}: " + " | ".join(rate_cell(*near[f][k]) for k in ("boundary", "clear")))
    print("Window z > 1.96 by n_valid " + " | ".join(f"[{lo}, {hi})" for lo, hi in NVALID_BANDS))
    for (n, f), v in band.items():
        print(f"  {n} {f}: " + " | ".join(rate_cell(*v[b]) for b in NVALID_BANDS))


def _autocorr(x, k):
    m = np.isfinite(x[:-k]) & np.isfinite(x[k:])
    return float(np.corrcoef(x[:-k][m], x[k:][m])[0, 1]) if m.sum() > 2 else math.nan


def diagnose_rotation(series, cfg, lags_s=(1.0, 3.0)):
    """Autocorrelation of each speaker's held series (f0, energy, rate) as it is and with its
    utterances rotated over their slots and stretched to them (``rotate_runs``, as the session
    test's surrogates do for energy and rate; f0's are framed, ``frame_runs``; 8 rotations spread
    over the runs, forward): a surrogate more autocorrelated than the real
    series has a wider null of r, and a rank test against it is conservative."""
    hb = int(round(cfg.hold_s * RATE))
    bridge = int(round(0.3 * RATE))
    print("Held series' autocorrelation at " + ", ".join(f"{x:g} s" for x in lags_s)
          + ": as it is -> utterances rotated (session-test surrogates)")
    for f in RAW:
        real, rot = [], []
        for ser in series:
            for side in ("a_raw", "b_raw"):
                raw = np.ascontiguousarray(ser[side][f], np.float64)
                n = len(raw)
                st, en = np.empty(n, np.int64), np.empty(n, np.int64)
                nrun = find_runs(raw, bridge, st, en)
                if nrun < 5:
                    continue
                sur, held = np.empty(n), np.empty(n)
                hold_runs(raw, hb, bridge, held)
                real.append([_autocorr(held, int(x * RATE)) for x in lags_s])
                for k in np.unique(np.linspace(2, nrun - 2, 8).astype(int)):
                    rotate_runs(raw, st, en, nrun, int(k), False, sur)
                    hold_runs(sur, hb, bridge, held)
                    rot.append([_autocorr(held, int(x * RATE)) for x in lags_s])
        a, b = np.nanmean(real, axis=0), np.nanmean(rot, axis=0)
        print(f"  {f}: " + ", ".join(f"{x:+.3f} -> {y:+.3f}" for x, y in zip(a, b, strict=True))
              + f" ({len(real)} series)")


WARM_SPANS_S = ((0, 1), (1, 3), (3, 6), (6, 10), (10, 20), (20, 60))


def diagnose_warm_up(recs):
    """The bias of each voice's first values (f0, energy, rate before the hold) by span of the
    voice's own values (s), in SD of its values after the first 60 s of them, mean ± its
    standard error over the voices: both speakers of a session start together, so a bias
    shared by every voice lines up at the start (``session_sync.WARM_UP_S``)."""
    print("Bias of each voice's first values (SD of its later values), by s of own values:")
    for f in RAW:
        out = {e: [] for e in WARM_SPANS_S}
        for r in recs:
            for k in ("a_raw", "b_raw"):
                x = r["series"][k][f]
                own = x[np.isfinite(x)]
                if len(own) < 60 * RATE + 50:
                    continue
                rest = own[60 * RATE:]
                for lo, hi in WARM_SPANS_S:
                    out[lo, hi].append((own[lo * RATE:hi * RATE].mean() - rest.mean()) / rest.std())
        print(f"  {f} ({len(out[0, 1])} voices): " + ", ".join(
            f"{lo}-{hi} s {np.mean(v):+.2f} ± {np.std(v) / np.sqrt(len(v)):.2f}"
            for (lo, hi), v in out.items()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer sessions; nothing written")
    ap.add_argument("--pseudo", type=int, default=PSEUDO_N,
                    help=f"pseudo-dialogues (default {PSEUDO_N}; the first 36 are the earlier set)")
    ap.add_argument("--windowed", type=int, default=WINDOWED_N,
                    help=f"pseudo-dialogues whose window rows, pseudo-dyads and turn-level "
                         f"measures are computed (default {WINDOWED_N}, the slow part); the "
                         "session test runs on all")
    ap.add_argument("--session-only", action="store_true",
                    help="the session test's p-value spread on the live null sets alone, and on "
                         "the real set with each recording's speakers centred (a few minutes); "
                         "nothing written")
    ap.add_argument("--diagnose", action="store_true",
                    help="window z by recording boundary and by complete pairs, and the session "
                         "test's surrogates' autocorrelation (about a minute); nothing written")
    args = ap.parse_args(argv)
    root = shared_data()
    t0 = time.perf_counter()
    n_pd = 6 if args.quick else args.pseudo
    recs = real_sessions(root)
    pds = pseudo_sessions(root, n_pd, 240.0)
    print(f"series ready in {time.perf_counter() - t0:.0f} s: {len(recs)} real recordings "
          f"({sum(r['duration_s'] for r in recs):.0f} s), {len(pds)} pseudo-dialogues", flush=True)
    cfg = SyncConfig()
    # most AMI excerpts last exactly 30 s: offsets far from multiples of 30 s, so that no
    # excerpt's start (baseline warm-up, leading silence) lines up with another's
    offs = REAL_OFFSETS if not args.quick else [45, 135]
    real = real_shifted(recs, offs)
    pas = pseudo_as_is(pds)
    psh = pseudo_shifted(pds, PSEUDO_OFFSETS if not args.quick else [90])
    nw = min(args.windowed, n_pd)
    pas_w = pas[:nw]
    psh_w = [s for s in psh if s["src"] in {r["name"] for r in pds[:nw]}]
    if args.diagnose:
        diagnose_windows(real, recs, offs, psh, cfg)
        diagnose_rotation([r["series"] for r in pds], cfg)
        diagnose_warm_up(pds)
        return 0
    if args.session_only:
        for name, ss in (("real conversations shifted", real),
                         ("real conversations shifted, each recording's speakers centred",
                          real_shifted(centred(recs), offs)),
                         ("pseudo-dialogues as laid out", pas), ("pseudo-dialogues shifted", psh)):
            session_spread(name, ss, cfg, FEATURES if ss is not pas else FEATURES[:3], [])
        return 0
    lines = [
        "# Synchrony under the null: false-positive rates on real speech "
        "(`python bench/bench_sync_null.py`)\n",
        f"Live preset ({cfg.window_s:g} s windows, ±{cfg.lag_s:g} s lags, a window every "
        f"{cfg.step_s:g} s, 10 Hz series). Window rows come from `SynchronyTracker` fed with each "
        "session's series; session tests from the engine's session-level statistic "
        f"({'present' if hasattr(SynchronyTracker, 'session_test') else 'absent: n/a'}). "
        "Session tests are measured with the engine's guard off (`guard=False`: a feature in "
        f"`UNCALIBRATED` gets no p from the engine; now {sorted(UNCALIBRATED) or 'none'}). "
        "Pseudo-dyads use the same settings with a 1 s step. Intervals: 95 % Wilson on the "
        "effective number of units given their clusters (sessions sharing audio; a session's "
        "windows): *n_eff* in each cell.\n",
        f"Engine: `{_sync.__name__}`; {len(recs)} real recordings, {len(pds)} pseudo-dialogues "
        "of 240 s.\n",
    ]
    real_w = [s for s in real if s["offset"] in REAL_WINDOWED] if not args.quick else real
    evaluate(f"real conversations, one side shifted by {len(offs)} offsets from {min(offs)} to "
             f"{max(offs)} s (each side in turn; window-level statistics on the shifts "
             + ", ".join(f"{o}" for o in REAL_WINDOWED) + " s)", real, cfg, FEATURES, lines,
             real_w)
    evaluate("pseudo-dialogues, turn-taking as laid out (voice activity coupled by the layout)",
             pas, cfg, FEATURES, lines, pas_w)
    evaluate("pseudo-dialogues, second side shifted", psh, cfg, FEATURES, lines, psh_w)
    evaluate("research preset (30 s windows, ±5 s, 10 s step): pseudo-dialogues, second side "
             "shifted", psh, SyncConfig.preset("research"), FEATURES, lines, psh_w)
    evaluate("research preset: pseudo-dialogues, turn-taking as laid out", pas,
             SyncConfig.preset("research"), FEATURES, lines, pas_w)
    evaluate_short("live preset, short sessions (held out: the 96 s minimum was set on the real "
                   "conversations last round)", [("pseudo-dialogues, second side shifted", psh),
                                                 ("pseudo-dialogues as laid out", pas)],
                   cfg, 100, lines)
    lines.append(f"Total {time.perf_counter() - t0:.0f} s on a busy 2-core machine.\n")
    before = OUT.parent / "sync_null_before.md"
    if before.exists():  # the same bench before the calibrated surrogates (kept for comparison)
        lines += ["## Before: segment-shuffled surrogates, last value held (commit 0cf9bfb)\n"]
        lines += [x.replace("### ", "#### ") for x in before.read_text().splitlines()[3:]]
    if not args.quick:
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text("\n".join(lines))
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
