"""The cue audit and the fitted cue combination of bench_end_of_turn.py.

Each logged silence (an end of the user's speech, ``EndOfTurnTracker.log``) carries the raw cue
measures (:data:`~prosync.engine.turn_cues.MEASURE_NAMES`). Here they become **z-scores against
the user's own earlier IPU ends** (a running mean and sd per user, shrunk towards the population
of the training folds' silences by ``N0`` pseudo-ends, so a user's first ends are read against
everybody's), and a **ridge logistic regression** of SHIFT against HOLD on the events' z-scores
(few weights, penalty ``LAMBDA``, intercept free) gives a cue term ``w . z`` per silence, fitted
with the held-out group (a dataset, or a conversation) left out. Labels exist only at events
(ends matched to a logged silence within 0.35 s); unlabelled silences feed only the running
z-scores and the population prior. Tens of events: every AUC comes with a bootstrap interval.
"""

from __future__ import annotations

import math

import numpy as np

from prosync.engine.turn_cues import MEASURE_NAMES

#: Pseudo IPU ends of the population's mean and sd in each user's running distribution.
N0 = 3.0
#: Ridge penalty of the logistic regression (sum of log-losses + LAMBDA / 2 * |w|^2).
LAMBDA = 3.0
#: Events are matched to the logged silence starting nearest their reference end, within this.
MATCH_S = 0.35
FEATURES = tuple(n.replace("ipu_s", "log_ipu_s") for n in MEASURE_NAMES)


def _vec(measures) -> np.ndarray:
    v = np.array(measures, float)
    v[MEASURE_NAMES.index("ipu_s")] = math.log(max(v[MEASURE_NAMES.index("ipu_s")], 0.05))
    return v


def population(runs) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of each measure over every logged silence of ``runs`` (no labels)."""
    x = np.array([_vec(entry[5]) for r in runs for entry in r["log"]])
    return np.nanmean(x, axis=0), np.maximum(np.nanstd(x, axis=0), 1e-6)


def running_z(log, pm: np.ndarray, ps: np.ndarray) -> np.ndarray:
    """Per logged silence, each measure's z-score against the user's earlier ends (causal;
    a missing measure scores 0 and does not enter the history)."""
    n_f = pm.size
    s1, s2, cnt = np.zeros(n_f), np.zeros(n_f), np.zeros(n_f)
    out = np.zeros((len(log), n_f))
    for i, entry in enumerate(log):
        v = _vec(entry[5])
        n = N0 + cnt
        mean = (N0 * pm + s1) / n
        # the prior's spread plus the user's own squared deviations from the blended mean
        var = (N0 * ps ** 2 + s2 - 2 * mean * s1 + cnt * mean ** 2) / n
        ok = np.isfinite(v)
        out[i, ok] = (v[ok] - mean[ok]) / np.sqrt(np.maximum(var[ok], 1e-9))
        s1[ok] += v[ok]
        s2[ok] += v[ok] ** 2
        cnt[ok] += 1
    return out


def matched(r) -> list[tuple[int, bool, tuple]]:
    """``(log index, is SHIFT, event)`` of each of the run's events with a logged silence
    near it."""
    starts = np.array([entry[0] for entry in r["log"]])
    out = []
    for ev in r["events"]:
        if starts.size:
            i = int(np.argmin(np.abs(starts - ev[0])))
            if abs(starts[i] - ev[0]) <= MATCH_S:
                out.append((i, ev[1] == "SHIFT", ev))
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, lam: float = LAMBDA) -> tuple[np.ndarray, float]:
    """Ridge logistic regression by Newton's method (intercept unpenalised): ``(w, b)``."""
    n, d = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    pen = np.full(d + 1, lam)
    pen[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(a @ beta)))
        g = a.T @ (p - y) + pen * beta
        h = (a * (p * (1 - p))[:, None]).T @ a + np.diag(pen + 1e-9)
        step = np.linalg.solve(h, g)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def auc(s: np.ndarray, y: np.ndarray) -> float:
    """P(a SHIFT's score > a HOLD's), ties half (0.5 = no information)."""
    a, b = s[y], s[~y]
    if not a.size or not b.size:
        return math.nan
    return float(np.mean((a[:, None] > b[None, :]) + 0.5 * (a[:, None] == b[None, :])))


def boot_auc(s: np.ndarray, y: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % bootstrap interval of :func:`auc` (events resampled with replacement)."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        i = rng.integers(0, y.size, y.size)
        if y[i].all() or not y[i].any():
            continue
        vals.append(auc(s[i], y[i]))
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def _design(runs, pm, ps):
    """The events' z-scores and labels, and every run's z-scores."""
    zs = [running_z(r["log"], pm, ps) for r in runs]
    x, y = [], []
    for r, z in zip(runs, zs, strict=True):
        for i, is_shift, _ in matched(r):
            x.append(z[i])
            y.append(is_shift)
    return np.array(x).reshape(-1, pm.size), np.array(y, bool), zs


def _fits(runs, key: str) -> dict:
    """Leave-one-group-out fits (group = ``r[key]``): per group, the population prior and the
    weights of the training groups."""
    out = {}
    for g in sorted({r[key] for r in runs}):
        train = [r for r in runs if r[key] != g]
        pm, ps = population(train)
        x, y, _ = _design(train, pm, ps)
        w, b = fit_logistic(x, y)
        out[g] = {"w": w, "b": b, "pm": pm, "ps": ps}
    return out


def fit_folds(runs, key: str) -> dict:
    """:func:`_fits`, and for every run the cue term ``w . z`` of each logged silence under
    each group's weights (``r["terms"][group]``; a held-out group's runs use their own
    group's)."""
    out = _fits(runs, key)
    for g, f in out.items():
        for r in runs:
            r.setdefault("terms", {})[g] = running_z(r["log"], f["pm"], f["ps"]) @ f["w"]
    return out


def held_out_scores(runs, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Each event's cue term from the fit that left its group out, and its label."""
    fits = _fits(runs, key)
    s, y = [], []
    for r in runs:
        pm, ps, w = (fits[r[key]][k] for k in ("pm", "ps", "w"))
        t = running_z(r["log"], pm, ps) @ w
        for i, is_shift, _ in matched(r):
            s.append(t[i])
            y.append(is_shift)
    return np.array(s), np.array(y, bool)


def _fmt3(a) -> str:
    return f"{a[0]:.2f} [{a[1]:.2f}, {a[2]:.2f}]"


def _fmt_auc(s, y) -> str:
    return _fmt3((auc(s, y), *boot_auc(s, y)))


def held_out_aucs(runs) -> dict:
    """The fitted combination's held-out AUC and its bootstrap interval, leaving out a dataset
    and leaving out a conversation: ``{key: (auc, lo, hi)}``."""
    out = {}
    for key in ("dataset", "name"):
        s, y = held_out_scores(runs, key)
        out[key] = (auc(s, y), *boot_auc(s, y))
    return out


def audit_lines(runs, held: dict) -> list[str]:
    """The "Cue audit" section: the raw measures per event, AUCs of raw measures, of their
    running z-scores and of the 0..1 cues, and the held-out AUC of the fitted combination
    (``held``: :func:`held_out_aucs`)."""
    from prosync.engine.turn_cues import CUE_NAMES

    pm, ps = population(runs)
    x, y, zs = _design(runs, pm, ps)
    raw, cues, rows = [], [], []
    for r in runs:
        for i, is_shift, ev in matched(r):
            entry = r["log"][i]
            raw.append(_vec(entry[5]))
            cues.append(entry[1])
            nxt = (ev[2] if ev[1] == "HOLD" else ev[3]) - ev[0]
            m = entry[5]
            rows.append(
                f"| {'SHIFT' if is_shift else 'HOLD'} | {r['name']} {r['user']} | {ev[0]:.2f} | "
                f"{1000 * (entry[0] - ev[0]):+.0f} | {nxt:.2f} | {m[0]:+.1f} | {m[1]:+.1f} | "
                f"{m[2]:+.1f} | {m[3]:.2f} | {m[4]:.2f} | {m[5]:.2f} | {m[6]:.2f} | "
                + " ".join(f"{c:.2f}" for c in entry[1]) + " |")
    raw, cues = np.array(raw), np.array(cues)
    per = []
    for j, name in enumerate(FEATURES):
        ok = np.isfinite(raw[:, j])
        per.append(f"| {name} | {_fmt_auc(raw[ok, j], y[ok])} | {_fmt_auc(x[:, j], y)} | "
                   f"{CUE_NAMES[j]} | {_fmt_auc(cues[:, j], y)} |")
    w_all, _ = fit_logistic(x, y)
    n_s, n_h = int(y.sum()), int((~y).sum())
    return [
        "## Cue audit: what each cue measures on these events",
        "",
        f"{n_h} HOLD and {n_s} SHIFT events matched to a silence of prosync's VAD (the nearest "
        f"start within {1000 * MATCH_S:.0f} ms of the reference end). Raw measures at the end "
        "of the IPU (`prosync.engine.turn_cues.cue_measures`): final F0 level (st re the "
        "speaker's median) and movement over the last 300 ms of voicing (ending within 500 ms "
        "of the end of speech), the last 200 ms's level re the IPU's preceding 800 ms, the "
        "unvoiced share of the last 200 ms, the last voiced run in syllables of the speaker's "
        "rate, the IPU's length, the other's speech share in "
        "the IPU's last second; then the seven 0..1 cues as the tracker reports them.",
        "",
        "| kind | conversation, user | end s | VAD end re ref, ms | next speech after, s | "
        "F0 end st | F0 move st | energy drop dB | unvoiced | final run syl | IPU s | other | "
        "cues 0..1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "AUC (P(a SHIFT's value > a HOLD's); 0.5 = none; 95 % bootstrap intervals over events): "
        "the raw measure, its z-score against the user's own earlier IPU ends (running, shrunk "
        f"to the population with {N0:.0f} pseudo-ends) and the 0..1 cue.",
        "",
        "| measure | raw | z re own ends | cue | cue AUC |",
        "|---|---|---|---|---|",
        *per,
        "",
        f"A ridge logistic regression of SHIFT on the seven z-scores (penalty {LAMBDA}, fitted "
        "without the held-out group): held-out AUC leave-one-dataset-out "
        f"**{_fmt3(held['dataset'])}**; leave-one-conversation-out {_fmt3(held['name'])}. "
        "Weights on all events: " + ", ".join(
            f"{n} {v:+.2f}" for n, v in zip(FEATURES, w_all, strict=True)) + ".",
        "",
    ]


#: The per-dataset audit's groups: each dataset, and the close-talk recordings together (a
#: CANDOR channel per speaker, the phone call's close microphones) against AMI's far-field mix.
AUDIT_GROUPS = (("ami", ("ami",)), ("candor", ("candor",)), ("phone", ("phone",)),
                ("close-talk (candor + phone)", ("candor", "phone")))


def dataset_audit(runs) -> list[dict]:
    """Per :data:`AUDIT_GROUPS` group: event counts, the users whose HOLDs these are, and each
    raw measure's, its running z-score's and the cue sum's AUC with a bootstrap interval
    (``None`` where a group lacks HOLDs or SHIFTs)."""
    pm, ps = population(runs)
    ev = []
    for r in runs:
        z = running_z(r["log"], pm, ps)
        for i, is_shift, _ in matched(r):
            entry = r["log"][i]
            ev.append((r["dataset"], f"{r['name']} {r['user']}", is_shift, _vec(entry[5]), z[i],
                       float(sum(entry[1]))))
    out = []
    for label, ds in AUDIT_GROUPS:
        sub = [e for e in ev if e[0] in ds]
        y = np.array([e[2] for e in sub], bool)
        res = {"group": label, "n_shift": int(y.sum()), "n_hold": int((~y).sum()),
               "hold_users": sorted({e[1] for e in sub if not e[2]}), "auc": {}}
        cols = [(n, np.array([e[3][j] for e in sub]), np.array([e[4][j] for e in sub]))
                for j, n in enumerate(FEATURES)]
        cols.append(("cue sum", np.array([e[5] for e in sub]), None))
        for name, raw, zz in cols:
            vals = []
            for s in (raw, zz):
                if s is None or y.all() or not y.any():
                    vals.append(None)
                    continue
                ok = np.isfinite(s)
                vals.append(None if y[ok].all() or not y[ok].any()
                            else (auc(s[ok], y[ok]), *boot_auc(s[ok], y[ok])))
            res["auc"][name] = vals
        out.append(res)
    return out


def dataset_audit_lines(aud: list[dict]) -> list[str]:
    """The per-dataset audit table (:func:`dataset_audit`)."""
    def cell(v):
        return "–" if v is None else _fmt3(v)
    head = ["measure"] + [f"{a['group']}: {a['n_hold']} HOLD / {a['n_shift']} SHIFT"
                          for a in aud]
    lines = ["### Per dataset: are the cues informative on close-talk audio?", "",
             "The same measures' AUC (raw; in brackets the 95 % bootstrap interval; then the "
             "z-score against the user's own earlier ends) per dataset and on the close-talk "
             "recordings together. HOLDs by user: " + "; ".join(
                 f"{a['group']}: {', '.join(a['hold_users']) or 'none'}" for a in aud) + ".",
             "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name in aud[0]["auc"]:
        cells = []
        for a in aud:
            raw, zz = a["auc"][name]
            cells.append(cell(raw) + ("" if zz is None else f"; z {zz[0]:.2f}"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def measure_aucs(runs) -> dict:
    """Each raw measure's AUC over all matched events, raw and as a running z-score, with
    bootstrap intervals: ``{name: ((auc, lo, hi), (auc, lo, hi))}``."""
    pm, ps = population(runs)
    x, y, _ = _design(runs, pm, ps)
    raw = np.array([_vec(r["log"][i][5]) for r in runs for i, _, _ in matched(r)])
    out = {}
    for j, name in enumerate(FEATURES):
        ok = np.isfinite(raw[:, j])
        out[name] = ((auc(raw[ok, j], y[ok]), *boot_auc(raw[ok, j], y[ok])),
                     (auc(x[:, j], y), *boot_auc(x[:, j], y)))
    return out


def close_talk_bullet(aud: list[dict]) -> str:
    """The reading's bullet on the cues on close-talk audio (:func:`dataset_audit`)."""
    ct = next(a for a in aud if a["group"].startswith("close-talk"))
    ami = next(a for a in aud if a["group"] == "ami")
    cands = {n: v[0] for n, v in ct["auc"].items() if v[0] is not None and n != "cue sum"}
    if not cands:
        return ("* **Close-talk audio** (CANDOR's channels, the phone call): no HOLD and SHIFT "
                "both there; the cues cannot be read apart from AMI.")
    top = max(cands, key=lambda n: abs(cands[n][0] - 0.5))
    a, lo, hi = cands[top]
    am = ami["auc"][top][0]
    users = ct["hold_users"]
    gate = ("a per-channel quality gate (the cues on only where the audio is clean, e.g. by the "
            "speaker's level over their noise floor) cannot be held out: leaving out that "
            "conversation leaves no close-talk HOLD to choose it on, and leaving out CANDOR the "
            "same. Not built; the cues stay off." if len(users) <= 1 else
            "a per-channel quality gate could be held out by conversation.")
    return (f"* **Close-talk audio** (\"Per dataset\" under the cue audit): on CANDOR's "
            f"channels and the phone call together ({ct['n_hold']} HOLD / {ct['n_shift']} "
            f"SHIFT) the measure furthest from 0.5 is {top}, AUC {a:.2f} [{lo:.2f}, {hi:.2f}]"
            + (f" (AMI {am[0]:.2f} [{am[1]:.2f}, {am[2]:.2f}])" if am is not None else "")
            + f"; but the HOLDs are {ct['n_hold']} pauses of "
            + (f"one user ({users[0]})" if len(users) == 1 else f"{len(users)} users")
            + ", the SHIFTs other users' ends: speaker and cue are confounded, and " + gate)
