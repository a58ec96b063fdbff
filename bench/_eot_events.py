"""bench_end_of_turn.py's per-event look and its fragment gate section: what the events are
(the IPU before each silence: length, level against the user's own speech, voicing) and what
each policy did there."""

from __future__ import annotations

import math

import numpy as np
from _eot_report import _pt

#: A fragment in the event table: an IPU shorter than this (s) ...
FRAG_S = 0.3
#: ... or this far under the user's median speech level (dB).
QUIET_DB = 10.0


def ipu_level_db(r, e: float, ipu_s: float) -> float:
    """Mean frame level of the user's speech in the IPU ending at ``e`` minus the median level
    of their speech frames before it (NaN with under 1 s of earlier speech: not yet known)."""
    sp, en = r["speech_raw"], r["energy_db"]
    k1 = int(round(e / 0.01))
    k0 = max(0, k1 - int(round(ipu_s / 0.01)))
    before = en[:k0][sp[:k0]]
    mine = en[k0:k1][sp[k0:k1]]
    if before.size < 100 or not mine.size:
        return math.nan
    return float(mine.mean() - np.median(before))


def _first(fires, e: float, tol: float, until: float) -> float:
    f = np.sort(np.asarray(fires, float))
    i = np.searchsorted(f, e - tol)
    return float(f[i] - e) if i < f.size and f[i] < until else math.inf


def event_rows(runs, heard_runs, fires_of: dict, tol: float, horizon: float) -> list[dict]:
    """One row per event matched to a silence of prosync's VAD (nearest start within 350 ms):
    the IPU before it and each policy's first fire after the end (s; inf = none before the
    user's next start, nor, at a SHIFT, within ``horizon``: the bench's scoring window);
    ``fires_of``: label -> function of a run giving its fire times."""
    out = []
    for r, h in zip(runs, heard_runs, strict=True):
        heard = {ev[0] for ev in h["events"]}
        fires = {k: f(r) for k, f in fires_of.items()}
        for e, kind, nu, no in r["events"]:
            near = [x for x in r["log"] if abs(x[0] - e) <= 0.35]
            if not near:
                continue
            m = min(near, key=lambda x: abs(x[0] - e))[5]
            ipu = float(m[5])
            out.append({"kind": kind, "conv": r["name"], "user": r["user"], "end": e,
                        "next": (nu if kind == "HOLD" else no) - e, "ipu": ipu,
                        "level": ipu_level_db(r, e, ipu), "unvoiced": float(m[3]),
                        "heard": e in heard,
                        **{k: _first(v, e, tol, nu if kind == "HOLD" else min(nu, e + horizon))
                           for k, v in fires.items()}})
    return out


def _kind_of(ev) -> str:
    short, quiet = ev["ipu"] < FRAG_S, ev["level"] < -QUIET_DB
    return ("short and quiet" if short and quiet else "short" if short else
            "quiet" if quiet else "speech")


def _s(v: float) -> str:
    return "–" if not math.isfinite(v) else f"{v:.2f}"


def event_lines(evs, labels) -> list[str]:
    """The events prosync's shipped signal gets wrong or the peers did not hear: every HOLD
    it interrupts that Silero did not hear and every SHIFT."""
    lab = labels[0]
    pick = [e for e in evs if e["kind"] == "SHIFT" or (not e["heard"] and e[lab] < e["next"])]
    head = " | ".join(f"{x} fires, s" for x in labels)
    out = ["## The events, one by one", "",
           "Every HOLD that prosync's shipped signal interrupts and Silero did not hear, and "
           "every SHIFT: the user's IPU before the silence (prosync's VAD: its length, its level "
           "against the user's median speech level before it, the unvoiced share of its last "
           "200 ms), whether Silero heard it, when the user (HOLD) or the other (SHIFT) spoke "
           "next, and the first fire of each policy after the end (s; – none within the "
           f"event). Kind: short = IPU under {FRAG_S} s, quiet = {QUIET_DB:.0f} dB or more under "
           "the user's level (– unknown in the user's first second of speech).", "",
           f"| kind | conversation, user | end s | IPU s | level dB | unvoiced | Silero heard | "
           f"next speech s | {head} | IPU |", "|---|---|---|---|---|---|---|---|"
           + "---|" * len(labels) + "---|"]
    for e in sorted(pick, key=lambda e: (e["kind"], e["conv"], e["end"])):
        fires = " | ".join(_s(e[x]) for x in labels)
        lvl = "–" if not math.isfinite(e["level"]) else f"{e['level']:+.1f}"
        out.append(f"| {e['kind']} | {e['conv']} {e['user']} | {e['end']:.2f} | {e['ipu']:.2f} "
                   f"| {lvl} | {e['unvoiced']:.2f} | {'yes' if e['heard'] else 'no'} | "
                   f"{e['next']:.2f} | {fires} | {_kind_of(e)} |")
    n = {k: sum(e["kind"] == k for e in evs) for k in ("HOLD", "SHIFT")}
    tally = ", ".join(
        f"{k}: " + ", ".join(f"{c} {sum(_kind_of(e) == c for e in evs if e['kind'] == k)}/{n[k]}"
                             for c in ("short and quiet", "short", "quiet", "speech"))
        for k in ("HOLD", "SHIFT"))
    unheard = [e for e in evs if not e["heard"]]
    out += ["", f"Over all {len(evs)} matched events, kinds of IPU: {tally}. Silero did not hear "
            f"{len(unheard)} events; of their IPUs {sum(e['ipu'] < 0.5 for e in unheard)} are "
            "under 0.5 s and "
            f"{sum(e['level'] < -QUIET_DB for e in unheard)} {QUIET_DB:.0f} dB or more under the "
            "user's level (Pipecat's VAD needs 0.2 s of confident speech to start).", ""]
    return out


def fragment_lines(frag, rows, heard, per_ds, grid) -> list[str]:
    """The fragment gate held out, against the shipped signal, on all events, the events
    Silero heard and per dataset, and along the curves at equal false interruptions."""
    a = {r["policy"]: r for r in rows}
    b = {r["policy"]: r for r in heard}
    fam = {"shipped": "prosync turn_end_prob, no cues >= ",
           "gate, held out by conversation": "prosync turn_end_prob, fragment gate held out by "
                                             "conversation >= ",
           "gate, held out by dataset": "prosync turn_end_prob, fragment gate held out by "
                                        "dataset >= "}

    def pts(d, f):
        return sorted((r for k, r in d.items() if k.startswith(f)), key=lambda r: r["fi"])

    def at(d, f, fi):
        """The lowest median latency of a family's points with at most ``fi`` interruptions."""
        ok = [r for r in pts(d, f) if r["fi"] <= fi and math.isfinite(r["med_ms"])]
        return min(ok, key=lambda r: r["med_ms"]) if ok else None

    byconv = frag["name"]
    picked = {}
    for c in byconv.values():
        picked[c.fragment_s] = picked.get(c.fragment_s, 0) + 1
    out = ["## Fragment gate (an IPU too short to claim a reply)", "",
           "`EndOfTurnConfig.fragment_s`: after an IPU shorter than it, `turn_end_prob` is held "
           "at 0 until the silence reaches `fragment_wait_s` (2 s), then follows the hazard. "
           f"Candidates {grid} s (0 = off), chosen by the objective above at the shipped bias "
           f"and threshold. On all runs the search picks {frag['all'].fragment_s} s; held out "
           "by dataset: " + ", ".join(f"{g} {c.fragment_s} s" for g, c in frag["dataset"].items())
           + "; held out by conversation (each tuned on the other "
           f"{len(byconv) - 1}): " + ", ".join(f"{v} s in {n}" for v, n in sorted(picked.items()))
           + ".", "",
           "| signal (threshold 0.5) | all events | Silero heard | "
           + " | ".join(per_ds) + " |", "|---|---|---|" + "---|" * len(per_ds)]
    for name, f in fam.items():
        lab = f"{f}0.5"
        ds = " | ".join(_pt({r["policy"]: r for r in per_ds[g]}[lab]) for g in per_ds)
        out.append(f"| {name} | {_pt(a[lab])} | {_pt(b[lab])} | {ds} |")
    out += ["", "At equal false interruptions along the threshold sweeps (the lowest median "
            "latency among each curve's points with at most that many; answered SHIFTs in "
            "brackets), all events:", "",
            "| HOLDs interrupted at most | " + " | ".join(fam) + " |",
            "|---|" + "---|" * len(fam)]
    levels = sorted({r["fi"] for f in fam.values() for r in pts(a, f)})
    for fi in levels:
        cells = []
        for f in fam.values():
            r = at(a, f, fi)
            cells.append("–" if r is None else f"{r['med_ms']:.0f} ms ({r['answered']}/"
                                               f"{r['n_shift']})")
        out.append(f"| {fi}/{rows[0]['n_hold']} | " + " | ".join(cells) + " |")
    ship, loco, lodo = (a[f"{f}0.5"] for f in fam.values())
    better = [fi for fi in levels if (lambda x, y: x is not None and y is not None and (
        x["med_ms"] < y["med_ms"] - 1e-9 or x["answered"] > y["answered"]))(
        at(a, fam["gate, held out by conversation"], fi), at(a, fam["shipped"], fi))]
    worse = [fi for fi in levels if (lambda x, y: x is not None and y is not None and (
        x["med_ms"] > y["med_ms"] + 1e-9 and x["answered"] <= y["answered"]))(
        at(a, fam["gate, held out by conversation"], fi), at(a, fam["shipped"], fi))]
    out += ["", f"Reading: held out by conversation the gate changes the shipped point from "
            f"{_pt(ship)} to {_pt(loco)}; held out by dataset {_pt(lodo)} (tuned without it, the "
            "gate is off for " + (", ".join(g for g, c in frag["dataset"].items()
                                           if c.fragment_s == 0) or "no dataset") + "). Along "
            f"the curves it is better at {len(better)} and worse at {len(worse)} of "
            f"{len(levels)} false-interruption levels. A difference of one or two events "
            "either way, within every interval: `fragment_s` ships off (0), the gate measured "
            "here for a deployment to weigh.", ""]
    return out
