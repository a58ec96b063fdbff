"""Tables and text of bench_end_of_turn.py's results page."""

from __future__ import annotations

import math
import time

import numpy as np
from _eot_fit import FEATURES, LAMBDA, auc


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def row(label, s, cpu_ms=math.nan) -> dict:
    lo, hi = wilson(s["fi"], s["n_hold"])
    lat, cap = np.asarray(s["lat"]), np.asarray(s["lat_cap"])
    def q(a, p):
        return (float(np.percentile(a, p)) * 1000 if a.size else math.nan)
    return {"policy": label, "fi": s["fi"], "n_hold": s["n_hold"],
            "fi_rate": s["fi"] / max(1, s["n_hold"]), "fi_lo": lo, "fi_hi": hi,
            "answered": len(s["lat"]), "n_shift": s["n_shift"],
            "med_ms": q(lat, 50), "p90_ms": q(lat, 90), "cap_med_ms": q(cap, 50),
            "cap_p90_ms": q(cap, 90), "cpu_ms_per_s": cpu_ms,
            "in_speech_per_min": (60 * s["in_speech"] / s["speech_s"] if s["speech_s"] > 0
                                  else math.nan)}


def _fmt(r) -> str:
    def f(v, d=0):
        return ("–" if not np.isfinite(v) else f"{v:.{d}f}")
    return (f"| {r['policy']} | {r['fi']}/{r['n_hold']} = {100 * r['fi_rate']:.0f} % "
            f"[{100 * r['fi_lo']:.0f}, {100 * r['fi_hi']:.0f}] | {r['answered']}/{r['n_shift']} "
            f"| {f(r['med_ms'])} / {f(r['p90_ms'])} | {f(r['cap_med_ms'])} / {f(r['cap_p90_ms'])} "
            f"| {f(r['in_speech_per_min'], 1)} | {f(r['cpu_ms_per_s'], 2)} |")


HEAD = ("| policy | false interruptions at HOLDs [95 % Wilson] | SHIFTs answered | latency "
        "median / p90 (ms) | capped at the other's start: median / p90 (ms) | fires inside the "
        "user's speech per minute of it | CPU ms per s of audio |\n|---|---|---|---|---|---|---|")


def _flatness(surface, runs, best, base) -> str:
    """How settled the search is: the objective's spread over the grid's plausible region
    (bias -3 .. -1.5, any cue weight) against what one event more or less moves it by."""
    n_hold = sum(e[1] == "HOLD" for r in runs for e in r["events"])
    region = [v for (b, _), v in surface.items() if -3.0 <= b <= -1.5]
    ship = surface.get((base.bias, base.cue_weight), math.nan)
    top = surface[(best.bias, best.cue_weight)]
    text = (f"over bias -3.0 .. -1.5 and every cue weight the objective spans "
            f"{min(region):.2f} .. {max(region):.2f} s, where one false interruption more or "
            f"less moves it by {2 / max(1, n_hold):.2f} s. ")
    if (best.bias, best.cue_weight) == (base.bias, base.cue_weight):
        return text + "These are the shipped defaults."
    return text + (
        "The choice is not settled by these events (it moves from run to run with small "
        f"changes of the voice activity): the shipped defaults stay fixed at bias "
        f"{base.bias:+.1f}, cue_weight {base.cue_weight:.2f} (objective {ship:.2f} s here, the "
        f"best {top:.2f} s), a point within noise of the best without cue weight (the cues "
        "did not separate pauses from ends here, see the Diagnosis) and with a shorter wait "
        "for a user not yet calibrated.")


def at_equal_fi(rows, fi_target) -> float:
    """Median SHIFT latency of the new signal interpolated at a false-interruption rate."""
    pts = sorted((r["fi_rate"], r["med_ms"]) for r in rows if "turn_end_prob >=" in r["policy"])
    xs = np.array([p[0] for p in pts])
    ys = np.array([p[1] for p in pts])
    if fi_target < xs.min() or fi_target > xs.max():
        return math.nan
    return float(np.interp(fi_target, xs, ys))


def _agentish(policy: str) -> bool:
    """The rows of what an agent gets from prosync's pacing advice (old rule and advice)."""
    return policy.startswith(("prosync old", "prosync advice"))


def report(runs, fold, all_cfg, base, datasets, rows, cpu, per_ds, heard, grid,
           surface) -> list[str]:
    """The lines of ``bench/results/end_of_turn.md``."""
    GRID_BIAS, GRID_W = grid
    byname = {r["policy"]: r for r in rows}
    sil8 = byname["Silero VAD, stop 0.8 s"]
    stt = byname["Smart Turn v3 (Pipecat default)"]
    new5 = byname[f"prosync turn_end_prob >= {base.threshold:.1f}"]
    n_inf = sum(r["cpu"]["st_n"] for r in runs)
    lines = [
        "# End of turn: prosync against Silero endpointing and Smart Turn v3",
        "",
        f"`nice -n 5 python bench/bench_end_of_turn.py` ({time.strftime('%Y-%m-%d %H:%M')} UTC, "
        "busy 2-core machine shared with other jobs: CPU figures are ratios measured in the same "
        "run). Definitions in the script's docstring.",
        "",
        "Events: " + ", ".join(
            f"{ds} {sum(e[1] == 'HOLD' for r in runs if r['dataset'] == ds for e in r['events'])}"
            f" HOLD / {sum(e[1] == 'SHIFT' for r in runs if r['dataset'] == ds for e in r['events'])}"
            " SHIFT" for ds in datasets)
        + f" (left out: {sum(r['skipped']['other_talking'] for r in runs)} ends with another "
        f"speaker already talking, {sum(r['skipped']['nobody_after'] for r in runs)} with "
        "nobody after). Tens of events: read the intervals, not the second digit.",
        "",
        "The new signal's two parameters are chosen by leave-one-dataset-out (grid "
        f"bias {GRID_BIAS}, cue_weight {GRID_W}, objective: mean SHIFT latency capped at 2 s + "
        "2 s x false-interruption rate, at threshold 0.5); every figure below for it is "
        "held out: " + "; ".join(f"{ds}: bias {c.bias:+.1f}, cue_weight {c.cue_weight:.2f} "
                                 f"(tuned without {ds})" for ds, c in fold.items())
        + f". On all data the search picks bias {all_cfg.bias:+.1f}, cue_weight "
        f"{all_cfg.cue_weight:.2f}; " + _flatness(surface, runs, all_cfg, base),
        "",
        "## All conversations (held-out folds pooled)",
        "",
        HEAD, *(_fmt(r) for r in rows), "",
        "CPU: Silero = Pipecat's analyzer (model + state machine); Smart Turn = its Silero VAD "
        f"({cpu['st_vad']:.2f} ms/s) + the model ({cpu['st_model']:.2f} ms/s, "
        f"{n_inf} inferences, {1000 * sum(r['cpu']['st_model'] for r in runs) / max(1, n_inf):.0f}"
        " ms each); "
        f"prosync old = the whole Session on both streams ({cpu['session']:.2f} ms/s); prosync "
        f"turn_end_prob = the end-of-turn tracker alone ({cpu['eot']:.3f} ms/s) on top of the "
        "Session every prosync policy runs anyway.",
        "",
    ]
    lines += ["## Only the events Silero heard", "",
              "The same policies on the events whose last user IPU Silero's VAD (stop 0.8 s run) "
              "confirmed as speech: the peers' low false-interruption rates above are partly "
              "deafness (a turn they did not hear is never interrupted, nor answered).", "",
              HEAD, *(_fmt(r) for r in heard if r["policy"] in (
                  "Silero VAD, stop 0.8 s", "Smart Turn v3 (Pipecat default)",
                  "prosync VAD, silence >= 0.8 s")
                  or _agentish(r["policy"]) or "turn_end_prob" in r["policy"]), ""]
    for ds in datasets:
        lines += [f"### {ds}", "", HEAD]
        lines += [_fmt(r) for r in per_ds[ds] if r["policy"] in (
            "Silero VAD, stop 0.8 s", "Smart Turn v3 (Pipecat default)")
            or _agentish(r["policy"]) or "turn_end_prob" in r["policy"]]
        lines.append("")
    lat_at_st = at_equal_fi(rows, stt["fi_rate"])
    t1 = new5["fi_rate"] <= sil8["fi_rate"] and new5["med_ms"] <= sil8["med_ms"]
    t2 = math.isfinite(lat_at_st) and lat_at_st <= stt["med_ms"]
    t3 = new5["answered"] / max(1, new5["n_shift"]) > max(
        sil8["answered"] / max(1, sil8["n_shift"]), stt["answered"] / max(1, stt["n_shift"]))
    t4 = cpu["eot"] < 0.1 * (cpu["st_vad"] + cpu["st_model"])
    hb = {r["policy"]: r for r in heard}
    lab = f"prosync turn_end_prob, no cues >= {base.threshold:.2f}".rstrip("0")
    ship, ship_h, sil8_h = byname[lab], hb[lab], hb["Silero VAD, stop 0.8 s"]

    def both(a, b):
        ok = a["fi"] / max(1, a["n_hold"]) <= b["fi"] / max(1, b["n_hold"]) and \
            a["med_ms"] <= b["med_ms"]
        return "met" if ok else "NOT met"
    lines += [
        "## Targets",
        "",
        f"* vs Silero stop 0.8 s, the parameter search's held-out picks (bias and weight of the "
        f"0..1 cue sum per fold, above) at threshold {base.threshold}: false interruptions "
        f"{100 * new5['fi_rate']:.0f} % vs {100 * sil8['fi_rate']:.0f} %, median SHIFT latency "
        f"{new5['med_ms']:.0f} vs {sil8['med_ms']:.0f} ms: **{'met' if t1 else 'NOT met'}**.",
        f"* The shipped defaults (bias {base.bias:+.1f}, cue_weight 0, threshold "
        f"{base.threshold}) vs Silero 0.8: all events {ship['fi']}/{ship['n_hold']} "
        f"interrupted, {ship['med_ms']:.0f} ms vs {sil8['fi']}/{sil8['n_hold']}, "
        f"{sil8['med_ms']:.0f} ms: **{both(ship, sil8)}**; on the events Silero heard "
        f"(equal footing, see above) {ship_h['fi']}/{ship_h['n_hold']}, "
        f"{ship_h['med_ms']:.0f} ms vs {sil8_h['fi']}/{sil8_h['n_hold']}, "
        f"{sil8_h['med_ms']:.0f} ms: **{both(ship_h, sil8_h)}**.",
        f"* vs Smart Turn at its false-interruption rate ({100 * stt['fi_rate']:.0f} %): the new "
        f"signal's curve gives a median latency of {lat_at_st:.0f} ms against Smart Turn's "
        f"{stt['med_ms']:.0f} ms: **{'met' if t2 else 'NOT met'}** (equal false interruptions, "
        "lower or equal latency).",
        f"* SHIFTs answered: {new5['answered']}/{new5['n_shift']} vs Silero 0.8 "
        f"{sil8['answered']}/{sil8['n_shift']} and Smart Turn {stt['answered']}/{stt['n_shift']}: "
        f"**{'met' if t3 else 'NOT met'}**.",
        f"* CPU: end-of-turn tracker {cpu['eot']:.3f} ms per s of audio vs Smart Turn "
        f"{cpu['st_vad'] + cpu['st_model']:.2f} ms: **{'met' if t4 else 'NOT met'}** "
        f"(the whole prosync Session, which also does pitch, rate, synchrony and pacing: "
        f"{cpu['session']:.2f} ms/s).",
        "",
    ]
    return lines


def fit_lines(fits, fold_fit) -> list[str]:
    """The fitted cue combination's weights and bias per held-out dataset."""
    out = ["## The fitted cue combination (held out by dataset)", "",
           "`prosync turn_end_prob, fitted cues` rows: the cue term of the hazard is a ridge "
           f"logistic regression (penalty {LAMBDA}) of SHIFT on the seven cue measures as "
           "z-scores against the user's own earlier IPU ends (`bench/_eot_fit.py`), fitted "
           "without the held-out dataset, weight 1; the bias then tuned on the same other "
           "datasets (objective as above). Weights per fold:", "",
           "| held out | " + " | ".join(FEATURES) + " | bias |",
           "|---|" + "---|" * (len(FEATURES) + 1)]
    for ds, f in fits.items():
        out.append(f"| {ds} | " + " | ".join(f"{v:+.2f}" for v in f["w"])
                   + f" | {fold_fit[ds].bias:+.1f} |")
    return out + [""]


def _point(r) -> str:
    med = "–" if not np.isfinite(r["med_ms"]) else f"{r['med_ms']:.0f}"
    return f"{r['fi']}/{r['n_hold']} | {r['answered']}/{r['n_shift']} | {med}"


def curve_lines(rows_all, rows_heard) -> list[str]:
    """Every policy's operating point on all events and on the events Silero heard."""
    heard = {r["policy"]: r for r in rows_heard}
    out = ["## Trade-off curves", "",
           "Each policy's operating points: false interruptions at HOLDs, SHIFTs answered, "
           "median latency of the answered SHIFTs (ms), on all events and on the events "
           "Silero heard; prosync `turn_end_prob` with and without the fitted cues swept over "
           "thresholds (held-out folds), prosync's VAD with a plain timer over delays.", "",
           "| policy | all: interrupted | answered | median ms | Silero heard: interrupted | "
           "answered | median ms |", "|---|---|---|---|---|---|---|"]
    for r in rows_all:
        out.append(f"| {r['policy']} | {_point(r)} | {_point(heard[r['policy']])} |")
    return out + [""]


def _pt(r) -> str:
    """An operating point in prose: ``3/15, 20/24, 840 ms``."""
    return _point(r).replace(" | ", ", ") + " ms"


def _meeting(rows, ref) -> list[dict]:
    """prosync's points with no more false interruptions than ``ref`` and no higher median
    latency."""
    return [r for r in rows if r["policy"].startswith("prosync") and r["fi"] <= ref["fi"]
            and np.isfinite(r["med_ms"]) and r["med_ms"] <= ref["med_ms"]]


def _meets(rows, ref) -> str:
    """Which of prosync's swept points meet ``ref`` on both axes, by family."""
    by: dict = {}
    for r in _meeting(rows, ref):
        fam, _, par = r["policy"].rpartition(">= ")
        if _agentish(r["policy"]):  # single points, not a sweep
            fam, par = r["policy"], ""
        by.setdefault(fam.strip(), []).append((par, r))
    if not by:
        return "none of prosync's points"
    out = []
    for fam, pts in by.items():
        lo, hi = pts[0], pts[-1]
        span = lo[0] if lo is hi else f"{lo[0]} .. {hi[0]}"
        out.append(f"`{fam}`" + (f" at {span}" if span else "") + f" ({_pt(lo[1])}"
                   + ("" if lo is hi else f" .. {_pt(hi[1])}") + ")")
    return "; ".join(out)


def equal_footing(runs, heard_runs, rows_all, rows_heard) -> list[str]:
    """Silero's and Smart Turn's advantage from deafness, measured: which events they heard,
    whether hearing depends on the event's kind, and the targets restricted to the heard
    events."""
    from scipy.stats import fisher_exact

    n = {k: sum(e[1] == k for r in runs for e in r["events"]) for k in ("HOLD", "SHIFT")}
    h = {k: sum(e[1] == k for r in heard_runs for e in r["events"]) for k in ("HOLD", "SHIFT")}
    p = fisher_exact([[h["HOLD"], n["HOLD"] - h["HOLD"]],
                      [h["SHIFT"], n["SHIFT"] - h["SHIFT"]]])[1]
    a = {r["policy"]: r for r in rows_all}
    b = {r["policy"]: r for r in rows_heard}
    sil_a, sil_h = a["Silero VAD, stop 0.8 s"], b["Silero VAD, stop 0.8 s"]
    st_a, st_h = a["Smart Turn v3 (Pipecat default)"], b["Smart Turn v3 (Pipecat default)"]
    return [
        "## Equal footing: how much of the peers' figures is deafness", "",
        f"Silero's VAD (its 0.8 s run) confirmed speech in the last user IPU of {h['HOLD']}/"
        f"{n['HOLD']} HOLDs and {h['SHIFT']}/{n['SHIFT']} SHIFTs (Fisher exact p = {p:.2f}: "
        "what it misses does not depend on whether the user goes on). A turn it did not hear "
        "is never interrupted and never answered, so on all events its false-interruption "
        f"count is its count on the heard events ({sil_h['fi']}/{sil_h['n_hold']}) over all "
        f"{n['HOLD']} HOLDs ({sil_a['fi']}/{sil_a['n_hold']}), and it answers "
        f"{sil_a['answered']}/{sil_a['n_shift']} SHIFTs. Any policy made deaf to the same "
        "turns would score the same; a policy that hears every turn meets the first target on "
        "all events only by interrupting fewer of the HOLDs it hears than Silero does of the "
        f"HOLDs it hears, by the factor {h['HOLD']}/{n['HOLD']}.", "",
        f"* All events, Silero 0.8 ({_pt(sil_a)}): met by "
        f"{_meets(rows_all, sil_a)}.",
        f"* On equal footing (only the events Silero heard; Silero 0.8: "
        f"{_pt(sil_h)}): met by {_meets(rows_heard, sil_h)}.",
        f"* Smart Turn on the heard events: {_pt(st_h)} (all events: "
        f"{_pt(st_a)}); prosync points with no more false "
        f"interruptions and no higher latency there: {_meets(rows_heard, st_h)}.",
        "",
    ]


def _spread(maucs: dict) -> str:
    """The raw measures' AUCs in a sentence (``_eot_fit.measure_aucs``)."""
    raw = {n: v[0] for n, v in maucs.items()}
    z = {n: v[1] for n, v in maucs.items()}
    far = max(raw, key=lambda n: abs(raw[n][0] - 0.5))
    far_z = max(z, key=lambda n: abs(z[n][0] - 0.5))
    excl = [n for n in raw if raw[n][1] > 0.5 or raw[n][2] < 0.5]
    excl_z = [n for n in z if z[n][1] > 0.5 or z[n][2] < 0.5]
    return (f"Single raw measures reach AUC {min(v[0] for v in raw.values()):.2f} .. "
            f"{max(v[0] for v in raw.values()):.2f} (furthest from 0.5: {far} "
            f"{raw[far][0]:.2f} [{raw[far][1]:.2f}, {raw[far][2]:.2f}]), their z-scores against "
            f"the user's own ends {min(v[0] for v in z.values()):.2f} .. "
            f"{max(v[0] for v in z.values()):.2f} ({far_z} {z[far_z][0]:.2f} "
            f"[{z[far_z][1]:.2f}, {z[far_z][2]:.2f}]); intervals excluding 0.5: "
            f"{', '.join(excl + [n + ' (z)' for n in excl_z]) or 'none'}.")


def reading(base, rows, heard, held, maucs: dict, n_ev: int, bullets=()) -> list[str]:
    """The section's reading (its figures from this run: ``rows`` and ``heard`` are the
    trade-off curves' points on all events and on the events Silero heard; ``held``: the fitted
    combination's held-out AUCs, ``_eot_fit.held_out_aucs``; ``maucs``: the raw measures'
    AUCs, ``_eot_fit.measure_aucs``; ``n_ev`` the events matched to a silence; ``bullets``: more
    bullets, appended)."""
    a = {r["policy"]: r for r in rows}
    b = {r["policy"]: r for r in heard}
    lab = f"prosync turn_end_prob, no cues >= {base.threshold:.2f}".rstrip("0")
    sil, sil_h = a["Silero VAD, stop 0.8 s"], b["Silero VAD, stop 0.8 s"]
    st_h = b["Smart Turn v3 (Pipecat default)"]
    ship, ship_h = a[lab], b[lab]
    tim = next((r for r in heard if r["policy"].startswith("prosync VAD")
                and r["fi"] <= st_h["fi"]), None)
    eq = [r for r in heard if "no cues" in r["policy"] and r["fi"] <= sil_h["fi"]
          and r["med_ms"] <= sil_h["med_ms"]]
    extra = (a[eq[-1]["policy"]]["fi"] - ship["fi"], eq[-1]["fi"] - ship_h["fi"]) if eq else (0, 0)
    quick = [r for r in rows if "no cues" in r["policy"] and r["med_ms"] < 1500]
    least = min(quick, key=lambda r: r["answered"]) if quick else None

    return [
        "## Reading", "",
        "* **The cues, audited** (per event in \"Cue audit\" below). Sign conventions were "
        "right: each 0..1 cue scores the direction Gravano & Hirschberg report as "
        "turn-yielding, so an AUC under 0.5 means these events go the other way. Four "
        "measurement faults were fixed (`engine/turn_cues.py`): the final F0 movement was read "
        "from the last 25 voiced frames anywhere in the last second instead of the last voiced "
        "300 ms; F0 ranges of 0.5-1 st and rates of 0.3-0.7 syl/s from baselines still warming "
        "up scaled the F0 and lengthening cues (population values now until the baseline "
        "settles, a range held within 4-16 st); the energy cue compared the end with the "
        "speaker's whole speech level, which every offset tail is 6 dB under (it was 1.0 at "
        "30 of 39 ends: no information; now the decay against the IPU's own preceding 800 ms); "
        "the lengthening cue was 0 at 35 of 39 ends (the rate).",
        "* **After the fixes the cues still carry nothing that holds out.** " + _spread(maucs)
        + " The ridge logistic combination of the seven measures as z-scores against the "
        "user's own earlier ends: held-out AUC {:.2f} [{:.2f}, {:.2f}] leaving out a dataset, ".format(
            *held["dataset"])
        + "{:.2f} [{:.2f}, {:.2f}] leaving out a conversation. ".format(*held["name"])
        + f"With {n_ev} events an AUC's interval is about +-0.2: these data can neither confirm "
        "nor rule out a cue worth about 0.6. The fitted rows' trade-off curve is no better "
        "than the curve without cues, so the defaults stay (cue_weight 0).",
        f"* **The operating point.** The shipped defaults (no cues, threshold "
        f"{base.threshold}): all events {_pt(ship)}; Silero 0.8 {_pt(sil)}. Without cues the "
        "probability is a per-user calibrated silence timer (\"Trade-off curves\"; its "
        "variants: \"The timer part\" below).",
        f"* **Silero's lead on all events is deafness** (\"Equal footing\"): it heard about "
        "half the user turns, HOLDs and SHIFTs alike, and a turn it did not hear is neither "
        "interrupted nor answered. On the events it heard, Silero 0.8 gives "
        f"{_pt(sil_h)} and the shipped defaults {_pt(ship_h)}: equal false interruptions, "
        f"{ship_h['med_ms'] - sil_h['med_ms']:+.0f} ms of median latency"
        + (f"; thresholds {eq[0]['policy'].rpartition('>= ')[2]} .. "
           f"{eq[-1]['policy'].rpartition('>= ')[2]} meet it on both axes ({_pt(eq[-1])} at the "
           "highest), a deployment's choice: the project's objective (interruptions at 2 s "
           f"each) prefers waiting longer, and of the {extra[0]} more HOLDs that threshold "
           f"interrupts on all events {extra[0] - extra[1]} are turns Silero did not hear."
           if eq else "; no threshold meets it.")
        + " On all events the target asks a listener that hears every turn to beat one that "
        "heard half of them; measured, that target is posed on deafness, not on knowing a "
        "pause from an end.",
        f"* **Smart Turn knows something prosync does not.** On the events Silero's VAD heard it "
        f"interrupts {st_h['fi']}/{st_h['n_hold']} HOLDs at a median {st_h['med_ms']:.0f} ms"
        + (f"; prosync's plain timer needs {tim['policy'].rpartition('>= ')[2]} for as few "
           f"({_pt(tim)})." if tim else "; no prosync point interrupts as few.")
        + " That target is not met."
        + (f" Hand-overs answered: every point of the no-cue curve with a median latency "
           f"under 1.5 s answers at least {least['answered']}/{least['n_shift']} "
           f"(Silero 0.8 {sil['answered']}/{sil['n_shift']})." if least else ""),
        *bullets,
        "",
    ]


def diagnosis(runs, cfg, heard) -> list[str]:
    """Why the new signal sits where it does: where its silences start against the reference
    ends, how long the HOLD pauses are, whether the cues separate HOLDs from SHIFTs, and when
    the probability crosses the threshold (no parameter fitted here)."""
    from prosync.engine.turn_cues import CUE_NAMES

    off, nxt, kinds, cues, cross, missing, n_ami = [], [], [], [], [], 0, 0
    for r in runs:
        for e, kind, nu, no in r["events"]:
            near = [entry for entry in r["log"] if abs(entry[0] - e) <= 0.35]
            if not near:
                missing += 1
                continue
            s0, cu, n_p, s_lp, n_end, *_ = min(near, key=lambda entry: abs(entry[0] - e))
            off.append(s0 - e)
            n_ami += r["dataset"] == "ami"
            nxt.append((nu if kind == "HOLD" else no) - e)
            kinds.append(kind == "SHIFT")
            cues.append(cu)
            cross.append(_crossing(cfg, cu, n_p, s_lp, n_end))
    off, nxt, y = np.array(off), np.array(nxt), np.array(kinds)
    cues, cross = np.array(cues), np.array(cross)
    hold, shift = nxt[~y], nxt[y]
    hb = {r["policy"]: r for r in heard}
    sil, tim = hb["Silero VAD, stop 0.8 s"], hb["prosync VAD, silence >= 0.8 s"]
    aucs = ", ".join(f"{n.removeprefix('cue_')} {auc(cues[:, i], y):.2f}"
                     for i, n in enumerate(CUE_NAMES))
    return [
        "## Diagnosis: why the new signal is no better than a silence timer here",
        "",
        f"From the same run ({len(off)} events matched to a silence of prosync's VAD within "
        f"350 ms; {missing} not matched). Nothing below is fitted.",
        "",
        "* **Not a late end of speech.** prosync's raw VAD ends the user's speech a median "
        f"{1000 * np.median(off):+.0f} ms from the reference end (10-90 %: "
        f"{1000 * np.percentile(off, 10):+.0f} to {1000 * np.percentile(off, 90):+.0f} ms): the "
        "silence clock starts on time (the IPU bridge only joins IPUs, the tracker starts at "
        "the raw speech end).",
        f"* **The HOLD pauses are long.** The users' within-turn pauses: median "
        f"{np.median(hold):.2f} s, {int(np.sum(hold > 1.0))}/{hold.size} longer than 1 s; "
        f"the gaps before the other speaker at SHIFTs: median {np.median(shift):.2f} s. Any "
        "silence timer of 1 s or less interrupts every HOLD longer than its delay that it "
        "hears: `prosync VAD, silence >= d` above. On the events Silero heard, Silero with a "
        f"0.8 s stop interrupts {sil['fi']}/{sil['n_hold']} HOLDs and answers "
        f"{sil['answered']}/{sil['n_shift']} SHIFTs in a median {sil['med_ms']:.0f} ms; "
        f"prosync's VAD with a 0.8 s timer {tim['fi']}/{tim['n_hold']}, "
        f"{tim['answered']}/{tim['n_shift']}, {tim['med_ms']:.0f} ms: Silero's lower "
        "false-interruption rate on all events comes from the HOLD turns it does not hear.",
        f"* **The cues do not separate pauses from ends on these events.** AUC of each 0..1 "
        f"cue (SHIFT above HOLD; 0.5 = no information): {aucs}; their sum "
        f"{auc(cues.sum(axis=1), y):.2f}. The cue audit above checks what each measures and "
        "reads them per dataset; the fitted combination does not carry over to a held-out "
        f"dataset (its AUC above). {y.size} events, "
        f"{n_ami} of them far-field AMI "
        "mixes cut by RTTM.",
        f"* **So the probability is a timer.** At threshold {cfg.threshold} and the shipped "
        f"parameters it crosses a median {np.median(cross):.2f} s into the silence (10-90 %: "
        f"{np.percentile(cross, 10):.2f} to {np.percentile(cross, 90):.2f} s), set by the "
        "bias, the user's own pauses and their own hand-over odds"
        + ("; the cues move it by a few hundred ms either way, and on these events not in the "
           "right direction." if cfg.cue_weight else
           " (the tuned cue weight is 0): the per-speaker calibration can only move the wait, "
           "and these conversations are too short (a few silences per speaker) to move it far."),
        "",
    ]


def _crossing(cfg, cues, n_p, s_lp, n_end) -> float:
    """Silence (s) at which the shipped model's probability first reaches its threshold."""
    from prosync.engine.endofturn import silence_logit

    t = np.arange(1, int(round(cfg.horizon_s / 0.01)) + 1) * 0.01
    z = silence_logit(cfg, t, cues, n_p, s_lp, n_end)
    hit = np.flatnonzero(z >= math.log(cfg.threshold / (1 - cfg.threshold)))
    return float(t[hit[0]]) if hit.size else math.inf


def agent_loop_text(res: dict) -> str:
    """``python examples/agent_loop.py``'s replies in prose (``res``: its ``run()``'s result):
    how long they waited against the user's own gaps, and which condition set their time."""
    rep = res["replies"]
    if not rep:
        return "it made no reply"
    waited = np.array([r["waited_ms"] for r in rep])
    by_te = [r["waited_ms"] for r in rep if r["turn_end_ms"] >= r["delay_ms"] - 1e-6]
    te = (f"; {len(by_te)} of the {len(rep)} timed by `turn_end` (its crossing later than the "
          f"advised delay), at {min(by_te):.0f} to {max(by_te):.0f} ms" if by_te else
          "; all timed by the advised delay")
    return (f"its replies wait a median {np.median(waited):.0f} ms after the user stops, "
            f"against the user's own gaps of {res['recorded_gap_ms']:.0f} ms in the recording "
            f"(to their real partner; {res['user_gap_ms']:.0f} ms after the agent's replies, "
            f"which the recorded user does not wait for); {len(rep)} replies, "
            f"{res['barge_ins']} barge-ins{te}")


def advice_lines(rows, heard, per_ds, detail, agent: dict) -> list[str]:
    """Replies at prosync's advice (turn_end, then the advised delay: what an agent following
    the docs does) beside the peers, and whether lengthening the delay when the user seems to
    hesitate earns its cost (``detail``: ``bench_end_of_turn.advice_detail``; ``agent``:
    ``examples/agent_loop.py``'s ``run()`` result, run by the bench)."""
    a = {r["policy"]: r for r in rows}
    b = {r["policy"]: r for r in heard}
    keep = [r["policy"] for r in rows if _agentish(r["policy"])]
    peers = ["Silero VAD, stop 0.8 s", "Smart Turn v3 (Pipecat default)"]
    gap, hes = (next(p for p in keep if "shipped" in p and k in p)
                for k in ("median gap", "hesitation"))
    gap_h, hes_h = (next(p for p in keep if "held out" in p and k in p)
                    for k in ("median gap", "hesitation"))
    old_h, old_g = "prosync old: silence >= reply_delay_ms", next(
        p for p in keep if p.startswith("prosync old") and "median gap" in p)
    def binds(v, key):  # replies whose time the advised delay set (later than turn_end)
        ld = detail[v][key]
        return f"{int(np.sum(ld[:, 1] > ld[:, 0] + 1e-9))} of {ld.shape[0]}"

    moved = sum(len(set(np.round(x, 3)) ^ set(np.round(y, 3))) // 2 for x, y in zip(
        detail["gap"]["fires"], detail["hesitation"]["fires"], strict=True))

    out = ["## Replies at prosync's advice (what an agent following the docs does)", "",
           "`prosync advice`: in each silence of the user the first frame where `turn_end` has "
           "fired and the silence has reached the advised `reply_delay_ms` of that moment "
           "(`AgentSession.reply_go()`, Pipecat's `ProsyncReplyGate`); `turn_end` with each "
           "dataset's held-out fold parameters (threshold 0.5) or the shipped ones; the delay "
           "the user's median gap (shipped now) or that gap lengthened by up to 600 ms when the "
           "user seems to hesitate (shipped before). `prosync old`: the delay alone, no "
           "`turn_end`. Same events and scoring as above.", "",
           "| policy | all: interrupted | answered | median ms | Silero heard: interrupted | "
           "answered | median ms |", "|---|---|---|---|---|---|---|"]
    for k in peers + keep:
        out.append(f"| {k} | {_point(a[k])} | {_point(b[k])} |")
    out += ["", "Per dataset (all events; held-out `turn_end`):", "",
            "| dataset | " + " | ".join(peers + [gap_h, hes_h]) + " |",
            "|---|" + "---|" * 4]
    for ds, rs in per_ds.items():
        d = {r["policy"]: r for r in rs}
        out.append(f"| {ds} | " + " | ".join(_pt(d[k]) for k in peers + [gap_h, hes_h]) + " |")
    out += [
        "",
        f"* **The hesitation lengthening does not earn its cost once `turn_end` gates the "
        f"reply.** Over all the users' silences (shipped `turn_end`) the advised delay set "
        f"the reply's time (was the later condition) at {binds('hesitation', 'lat_delay_all')}"
        f" replies with the hesitation rule and {binds('gap', 'lat_delay_all')} with the "
        f"user's median gap ({moved} replies move); at the events' replies "
        f"{binds('hesitation', 'lat_delay')} and {binds('gap', 'lat_delay')}: held out "
        f"{_pt(a[hes_h])} with it, {_pt(a[gap_h])} without; shipped {_pt(a[hes])} and {_pt(a[gap])}; "
        f"on the events Silero heard {_pt(b[hes_h])} and {_pt(b[gap_h])} held out, {_pt(b[hes])} "
        f"and {_pt(b[gap])} shipped. `turn_end` crosses later than either "
        "delay here (the users' gaps in these conversations are short, the users' pauses "
        "long), so the delay only sets the reply's time once the user's own gap is longer "
        "than the end-of-turn wait. In `python examples/agent_loop.py` (run by this bench) "
        f"{agent_loop_text(agent)}. Alone (no "
        f"`turn_end`, the old rule) the lengthening did cut false interruptions: {_pt(a[old_h])} "
        f"with it, {_pt(a[old_g])} without; an agent that waits for `turn_end` no longer needs "
        "it. So `reply_delay_ms` is now the user's median gap (250 ms until three of their "
        "floor transfers are known) and `hesitation` is reported only.",
        f"* **Against the peers**, replies at prosync's advice are `turn_end`'s figures: all "
        f"events {_pt(a[gap])} (shipped), Silero 0.8 {_pt(a[peers[0]])}, Smart Turn "
        f"{_pt(a[peers[1]])}; on the events Silero heard {_pt(b[gap])}, Silero 0.8 "
        f"{_pt(b[peers[0]])}, Smart Turn {_pt(b[peers[1]])}.",
        "",
    ]
    return out
