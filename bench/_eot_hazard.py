"""The timer part of ``turn_end_prob``, in variants: bench_end_of_turn.py's "Timer part" section.

Without cues ``turn_end_prob`` is a hazard: ``logit p(t) = offset + log((a + n_end) / (a +
n_pause)) - log S_pause(t)``, ``S_pause`` the user's pauses as a log-normal whose log-mean moves
from a population prior to the user's own pauses (Heldner & Edlund 2010;
:mod:`prosync.engine.endofturn`). Each variant changes how the per-user part is calibrated;
each is replayed on the bench's logged silences (the user's counted pauses are recovered from
the log's running sums), its parameters chosen with a dataset or a conversation held out (the
objective of the bench at threshold 0.5, the offset on the bench's bias grid), and its
trade-off curve swept over the offset (the threshold) with each fold's parameters. A fire
needs 0.2 s of silence (the plain timer's shortest delay), so that no curve reaches the
scoring's immediate-fire corner.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import log_ndtr

HOP_S = 0.01
MIN_FIRE_S = 0.2
#: The offset (bias - logit(threshold)) the folds choose from: the bench's bias grid at 0.5.
TUNE_OFFS = (-3.0, -2.5, -2.0, -1.5, -1.0, -0.5)
#: The curves' sweep of the offset.
SWEEP = tuple(round(-6.0 + 0.1 * i, 1) for i in range(71))

_BASE = {"mu0": math.log(0.5), "sd0": 0.7, "k_mu": 5.0, "k_sd": None, "a": 4.0, "gap_c": None}
#: label -> candidate parameter sets (the folds choose among them).
VARIANTS = {
    "population timer (no per-user calibration)": [{**_BASE, "k_mu": math.inf, "a": None}],
    "shipped: the user's pauses and hand-over odds": [_BASE],
    "the user's hand-over odds only": [{**_BASE, "k_mu": math.inf}],
    "the user's pause spread too": [{**_BASE, "k_sd": k, "sd0": s} for k in (2.0, 5.0)
                                    for s in (0.5, 0.7, 1.0)],
    "pause prior = c x the user's gap": [{**_BASE, "gap_c": c} for c in (2.0, 3.0, 4.0, 6.0)],
}


def silences(r, horizon_s: float) -> list[tuple]:
    """Per logged silence of run ``r``: ``(start s, frames until the user's next raw speech
    (at most the horizon), the user's counted pauses before it (log s), n_end, the user's
    advised gap then (s))``."""
    out, pauses, prev = [], [], (0, 0.0)
    n_max = int(round(horizon_s / HOP_S))
    adv = r["advised"]
    for e, _cues, n_p, s_lp, n_end, _m in r["log"]:
        if n_p > prev[0]:  # the tracker counts at most one pause between two silences
            pauses.append(s_lp - prev[1])
        prev = (n_p, s_lp)
        k = round(e / HOP_S)
        nxt = np.flatnonzero(r["speech_raw"][k:k + n_max])
        gi = max(0, int(np.searchsorted(adv[:, 0], e, side="right")) - 1)
        out.append((e, int(nxt[0]) if nxt.size else n_max, tuple(pauses), n_end,
                    float(adv[gi, 1]) / 1000.0))
    return out


def logit_curve(p: dict, pauses, n_end: int, gap_s: float, t: np.ndarray) -> np.ndarray:
    """``logit p(t)`` without the offset, for variant parameters ``p``."""
    lp = np.asarray(pauses, float)
    n = lp.size
    mu0 = p["mu0"] if p["gap_c"] is None else math.log(p["gap_c"] * gap_s)
    mu = mu0 if math.isinf(p["k_mu"]) else (p["k_mu"] * mu0 + lp.sum()) / (p["k_mu"] + n)
    sd = p["sd0"]
    if p["k_sd"] is not None:
        sd = math.sqrt((p["k_sd"] * sd ** 2 + float(((lp - mu) ** 2).sum())) / (p["k_sd"] + n))
    odds = 0.0 if p["a"] is None else math.log((p["a"] + n_end) / (p["a"] + n))
    return odds - log_ndtr(-(np.log(t) - mu) / sd)


def fires(sil, p: dict, offsets) -> dict:
    """Fire times for each offset: the first frame from 0.2 s of silence where
    ``logit + offset >= 0``."""
    out = {o: [] for o in offsets}
    neg = -np.asarray(offsets, float)
    for e, m, pauses, n_end, gap in sil:
        if m == 0:
            continue
        t = np.arange(1, m + 1) * HOP_S
        z = np.where(t >= MIN_FIRE_S - 1e-9, logit_curve(p, pauses, n_end, gap, t), -np.inf)
        z = np.maximum.accumulate(z)
        idx = np.searchsorted(z, neg - 1e-12)
        for o, i in zip(offsets, idx.tolist(), strict=True):
            if i < m:
                out[o].append(e + float(t[i]))
    return out


def _key(p: dict) -> tuple:
    return tuple(sorted(p.items()))


def hazard_section(runs, heard_runs, pooled, objective, horizon_s: float) -> dict:
    """Every variant held out by dataset and by conversation: per ``(key, variant)`` the
    chosen parameters per group, the curve points on all events and on the heard ones
    (``(fi, n_hold, answered, n_shift, median ms)`` per swept offset) and the operating point
    at each fold's tuned offset (``pooled`` scores)."""
    offs = tuple(sorted(set(SWEEP) | set(TUNE_OFFS)))
    cache: dict = {}
    sil = {(r["name"], r["user"]): silences(r, horizon_s) for r in runs}

    def fired(r, p):
        k = ((r["name"], r["user"]), _key(p))
        if k not in cache:
            cache[k] = fires(sil[k[0]], p, offs)
        return cache[k]

    out = {}
    for key in ("dataset", "name"):
        for label, grid in VARIANTS.items():
            chosen, groups = {}, {}
            for g in sorted({r[key] for r in runs}):
                train = [r for r in runs if r[key] != g]
                best = None
                for p in grid:
                    for o in TUNE_OFFS:
                        j = objective(pooled(train, lambda r, p=p, o=o: fired(r, p)[o]))
                        if best is None or j < best[0] - 1e-9:
                            best = (j, p, o)
                groups[g] = best[1:]
                for r in runs:
                    if r[key] == g:
                        chosen[(r["name"], r["user"])] = best[1:]

            def at(rs, off=None, chosen=chosen):
                def of(x):
                    p, o = chosen[(x["name"], x["user"])]
                    return fired(x, p)[o if off is None else off]
                return pooled(rs, of)

            out[(key, label)] = {
                "chosen": groups,
                "fires": {(r["name"], r["user"]): fired(r, chosen[(r["name"], r["user"])][0])
                          for r in runs},
                "op": (at(runs), at(heard_runs)),
                "curve": ([_pt(at(runs, o)) for o in SWEEP],
                          [_pt(at(heard_runs, o)) for o in SWEEP]),
            }
    return out


def _pt(s) -> tuple:
    lat = np.asarray(s["lat"])
    return (s["fi"], s["n_hold"], lat.size, s["n_shift"],
            float(np.median(lat)) * 1000 if lat.size else math.inf)


def best_at(points, k: int):
    """The point of least median latency with at most ``k`` false interruptions (ties: more
    SHIFTs answered)."""
    ok = [p for p in points if p[0] <= k and p[2] > 0]
    return min(ok, key=lambda p: (p[4], -p[2])) if ok else None


def timer_points(runs, pooled, timer_fires) -> list[tuple]:
    """The plain timer on prosync's VAD, delays 0.2 .. 2.0 s by 50 ms."""
    return [_pt(pooled(runs, lambda r, d=d: timer_fires(r["log"], r["speech_raw"], d)))
            for d in (round(0.2 + 0.05 * i, 2) for i in range(37))]


def _cell(p) -> str:
    return "–" if p is None else f"{p[4]:.0f} ({p[2]}/{p[3]})"


def hazard_lines(res: dict, timer_all, timer_heard, peers: dict) -> list[str]:
    """The section: lowest median latency at equal false interruptions for every variant held
    out by dataset and by conversation, on all events and on the heard ones, and the
    operating points at the folds' tuned offsets (``peers``: label -> (all, heard) rows of the
    bench's table)."""
    labels = list(VARIANTS)
    n_hold = timer_all[0][1]
    n_hold_h = timer_heard[0][1]
    out = ["## Timer part: per-user hazard variants (held out)", "",
           __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(), "",
           "Variants: " + "; ".join(
               f"**{lab}**" for lab in labels) + " (the shipped model: log-normal pauses, prior "
           "median 0.5 s, log-sd 0.7, 5 pseudo-pauses, 4 pseudo-counts of ends and pauses; "
           "the pause spread: the user's log-sd shrunk to a prior sd of 0.5/0.7/1.0 with 2 or 5 "
           "pseudo-pauses; the gap prior: the pause prior's median c = 2/3/4/6 times the "
           "user's typical gap as pacing tracks it).", ""]
    for sub, tim, n, idx in (("all events", timer_all, n_hold, 0),
                             ("the events Silero heard", timer_heard, n_hold_h, 1)):
        out += [f"Lowest median latency (ms; SHIFTs answered) at no more than k/{n} HOLDs "
                f"interrupted, {sub}: the plain timer, then each variant held out by dataset "
                "(D) and by conversation (C).", "",
                "| k | plain timer | " + " | ".join(
                    f"{lab} D | C" for lab in labels) + " |",
                "|---|---|" + "---|---|" * len(labels)]
        for k in range(max(1, n - 12), n):
            cells = [_cell(best_at(tim, k))]
            for lab in labels:
                for key in ("dataset", "name"):
                    cells.append(_cell(best_at(res[(key, lab)]["curve"][idx], k)))
            out.append(f"| {k} | " + " | ".join(cells) + " |")
        out.append("")
    out += ["At the folds' tuned offsets (threshold 0.5, bias from the bench's grid): all events "
            "| the events Silero heard.", "",
            "| variant | held out by dataset | held out by conversation | parameters chosen "
            "per dataset |", "|---|---|---|---|"]
    for lab in labels:
        cells = []
        for key in ("dataset", "name"):
            a, h = res[(key, lab)]["op"]
            cells.append(f"{_prose(_pt(a))} \\| {_prose(_pt(h))}")
        ch = "; ".join(f"{g}: {_params(p, o)}" for g, (p, o) in
                       res[("dataset", lab)]["chosen"].items())
        out.append(f"| {lab} | {cells[0]} | {cells[1]} | {ch} |")
    out += ["", "Peers for reference: " + "; ".join(
        f"{k} {_prose_row(a)} | heard {_prose_row(h)}" for k, (a, h) in peers.items()) + ".", ""]
    return out


def _prose(p) -> str:
    med = "–" if not np.isfinite(p[4]) else f"{p[4]:.0f}"
    return f"{p[0]}/{p[1]}, {p[2]}/{p[3]}, {med} ms"


def _prose_row(r) -> str:
    return _prose((r["fi"], r["n_hold"], r["answered"], r["n_shift"], r["med_ms"]))


def _params(p: dict, o: float) -> str:
    bits = [f"offset {o:+.1f}"]
    if p["k_sd"] is not None:
        bits.append(f"sd0 {p['sd0']:.1f}, k_sd {p['k_sd']:.0f}")
    if p["gap_c"] is not None:
        bits.append(f"c {p['gap_c']:.0f}")
    return ", ".join(bits)


def versus(res: dict, timer_pts, idx: int = 0) -> dict:
    """Per variant and hold-out, at each false-interruption level where both curves have a
    point: how many levels it answers SHIFTs sooner than the shipped model (a lower median
    latency with as many answered, or more answered), how many later; and the shipped model
    against the plain timer (``"timer"``): ``(sooner, later, levels compared)``; the rest of
    the levels are mixed (sooner with fewer answered, or the reverse)."""
    ship = res[("dataset", "shipped: the user's pauses and hand-over odds")]["curve"][idx]
    n = ship[0][1]

    def tally(cur, ref):
        win = lose = both = 0
        for k in range(1, n):
            a, b = best_at(cur, k), best_at(ref, k)
            if a is None or b is None:
                continue
            both += 1
            if (a[2] > b[2] and a[4] <= b[4]) or (a[2] >= b[2] and a[4] < b[4] - 1e-9):
                win += 1
            elif (b[2] > a[2] and b[4] <= a[4]) or (b[2] >= a[2] and b[4] < a[4] - 1e-9):
                lose += 1
        return win, lose, both

    out = {"timer": tally(ship, timer_pts)}
    for (key, lab), v in res.items():
        if not lab.startswith("shipped"):
            out[(key, lab)] = tally(v["curve"][idx], ship)
    return out


def hazard_bullet(res: dict, vs_all: dict, vs_heard: dict, boots: dict) -> str:
    """The reading's bullet on the timer part (:func:`versus` on all and on heard events;
    ``boots``: label -> :func:`boot_diff`)."""
    def t(v):
        return f"{v[0]} sooner, {v[1]} later of {v[2]}"
    ship = "shipped: the user's pauses and hand-over odds"
    parts = []
    for lab in VARIANTS:
        if lab == ship:
            continue
        d, c = vs_all[("dataset", lab)], vs_all[("name", lab)]
        dh, ch = vs_heard[("dataset", lab)], vs_heard[("name", lab)]
        b = boots[lab]
        parts.append(f"{lab}: {t(d)} levels held out by dataset, {t(c)} by conversation "
                     f"(heard events {t(dh)}; {t(ch)}); mean latency {b[0]:+.0f} ms "
                     f"[{b[1]:+.0f}, {b[2]:+.0f}]")
    ops = {lab: res[("name", lab)]["op"][0] for lab in VARIANTS}
    return ("* **The timer part** (\"Timer part\" below): against the plain timer on the same "
            f"VAD the shipped per-user hazard, at equal false interruptions: {t(vs_all['timer'])} "
            f"levels (heard events {t(vs_heard['timer'])}). Against the "
            "shipped model, at each false-interruption level (sooner = a lower median latency "
            "with as many SHIFTs answered, or more answered; the rest mixed), and the mean "
            "difference of median latency (the SHIFTs answered aside) over the levels 4/15 .. "
            "12/15 held out by conversation, with a 95 % interval from resampling "
            "conversations: "
            + "; ".join(parts) + ". Held out by conversation at the folds' tuned thresholds: "
            + "; ".join(f"{lab} {_prose(_pt(s))}" for lab, s in ops.items())
            + ". Every interval includes 0, the chosen parameters move between folds and the "
            "tuned thresholds with them: no variant replaces the shipped model."
            if all(b[1] <= 0 <= b[2] for b in boots.values()) else
            ". Some interval excludes 0: see the table; the shipped model is unchanged here.")


def boot_diff(runs, res: dict, lab: str, score, key: str = "name", n_boot: int = 300,
              seed: int = 0) -> tuple[float, float, float]:
    """Mean difference of median latency (ms), variant ``lab`` minus the shipped model, over
    the false-interruption levels 4/15 .. 12/15 of the HOLDs (scaled to the sample's HOLDs),
    on all events and with a 95 % interval from resampling conversations (the folds'
    parameters as chosen held out by ``key``, not re-chosen per resample)."""
    ship = "shipped: the user's pauses and hand-over odds"
    sc = {}
    for name in (lab, ship):
        f = res[(key, name)]["fires"]
        sc[name] = {(r["name"], r["user"]): [score(r["events"], f[(r["name"], r["user"])][o],
                                                   r["segs"]) for o in SWEEP] for r in runs}
    convs = sorted({r["name"] for r in runs})
    users = {c: [(r["name"], r["user"]) for r in runs if r["name"] == c] for c in convs}

    def curve(name, sample):
        pts = []
        for j in range(len(SWEEP)):
            fi = nh = ns = 0
            lat: list = []
            for c in sample:
                for u in users[c]:
                    s = sc[name][u][j]
                    fi, nh, ns = fi + s["fi"], nh + s["n_hold"], ns + s["n_shift"]
                    lat += s["lat"]
            pts.append((fi, nh, len(lat), ns, float(np.median(lat)) * 1000 if lat else math.inf))
        return pts

    def stat(sample):
        a, b = curve(lab, sample), curve(ship, sample)
        nh = b[0][1]
        d = []
        for k in range(max(1, round(nh * 4 / 15)), max(1, round(nh * 12 / 15)) + 1):
            x, y = best_at(a, k), best_at(b, k)
            if x is not None and y is not None:
                d.append(x[4] - y[4])
        return float(np.mean(d)) if d and nh >= 5 else math.nan

    rng = np.random.default_rng(seed)
    bs = np.array([stat(list(rng.choice(convs, len(convs)))) for _ in range(n_boot)])
    bs = bs[np.isfinite(bs)]
    return stat(convs), float(np.percentile(bs, 2.5)), float(np.percentile(bs, 97.5))
