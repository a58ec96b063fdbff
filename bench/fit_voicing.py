"""Learn prosync's per-frame voicing decision: a logistic model on the tracker's own evidence.

The evidence of every frame (:func:`prosync.native.pitch.evidence`: deepest CMNDF dip, best
short-window NAC, band energy against the speaker's periodic level and against the tracked noise
floor, lag-1 autocorrelation, energy change, NAC x (1 - dip)) is computed on the cached
candidates of ``pitch_sim.py`` (same kernels, same frame grid as a ``Session``) for FDA, PTDB
and ARCTIC under every condition of ``bench_pitch_robust.py``; the label of a frame is the EGG /
laryngograph reference's voicing at the reference time it is scored at.

``--auc``: the feasibility look: per condition, the area under the ROC curve of each evidence
alone (voiced against unvoiced reference frames, pooled over speakers) and of the logistic model
fitted with the speaker held out (and with the dataset held out), and the frame error of the
model's own decision (log-odds > 0, no Viterbi), next to prosync's and Praat ac's VDE.

Default: the full fit. For each fold (one speaker out, one dataset out, all) the logistic
weights are fitted (plain numpy, Newton's method, a small ridge) on the training speakers; then
the log-odds enter the Viterbi as a term of the unvoiced cost (``v_gain * z``) and the Viterbi's
constants (``pitch_sim.fit``, the (1+1) evolution strategy against Praat's errors per cell) are
retuned with the weights fixed, on the same training speakers. Writes
``bench/results/pitch_folds_voicing.json`` (the folds for ``bench_pitch_robust.py
--folds-file``) and ``bench/results/pitch_voicing.md``.

Run: ``nice -n 5 python bench/fit_voicing.py --auc`` (a few minutes the first time: the
candidates of every file and condition are extracted and cached), ``nice -n 5 python
bench/fit_voicing.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pitch_data as pdata  # noqa: E402
import pitch_sim  # noqa: E402
from _shared import ROOT  # noqa: E402

NAMES = ("bias", "CMNDF dip", "NAC", "e - level", "e - floor", "lag-1 r", "delta e",
         "NAC x (1-dip)", "noise share", "e - level to -8 dB")
RIDGE = 1e-3


def evidence(feat, params):
    """float64[n, N_EVIDENCE] evidence of the ``n`` output frames of one cached file."""
    from prosync.engine import pitch as ep
    from prosync.native import pitch as kp

    prm = ep.tracker_params(feat["tau_min"], params)
    m = feat["n"] + feat["lag"]
    out = np.zeros((m, kp.N_EVIDENCE))
    kp.evidence_series(feat["cand"], feat["edb"], m, prm, np.zeros(kp.N_LEVEL), out)
    return out[:feat["n"]]


def table(rows, params):
    """``[(dataset, speaker, cond, X at the reference times, y voiced)]``."""
    out = []
    for ds, spk, cond, _name, feat, ref_t, ref_f0 in rows:
        X = evidence(feat, params)
        j = np.clip(np.round(ref_t * 100.0 - 0.5).astype(int), 0, len(X) - 1)
        out.append((ds, spk, cond, X[j], ref_f0 > 0))
    return out


def logistic(X, y, ridge=RIDGE, iters=30):
    """Weights ``w`` of ``P(voiced) = 1 / (1 + exp(-X w))`` (column 0 of ``X`` is the bias):
    Newton's method on the standardised columns with a ridge, mapped back to raw units."""
    mu = X[:, 1:].mean(0)
    sd = X[:, 1:].std(0) + 1e-9
    Z = np.column_stack([np.ones(len(X)), (X[:, 1:] - mu) / sd])
    yy = y.astype(np.float64)
    w = np.zeros(Z.shape[1])
    R = ridge * len(Z) * np.eye(Z.shape[1])
    R[0, 0] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(Z @ w)))
        g = Z.T @ (p - yy) + R @ w
        H = (Z * (p * (1 - p))[:, None]).T @ Z + R
        step = np.linalg.solve(H, g)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    raw = np.empty_like(w)
    raw[1:] = w[1:] / sd
    raw[0] = w[0] - np.sum(w[1:] * mu / sd)
    return raw


def auc(s, y):
    """Area under the ROC curve of score ``s`` for labels ``y`` (ties count half)."""
    from scipy.stats import rankdata

    y = np.asarray(y, bool)
    n1, n0 = y.sum(), (~y).sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def stack(tab, keep):
    sel = [t for t in tab if keep(t)]
    return np.concatenate([t[3] for t in sel]), np.concatenate([t[4] for t in sel])


def folds_of(tab):
    """``{fold: (train predicate, test predicate)}``: one speaker out, one dataset out, all."""
    out = {}
    for ds, spks in pdata.SPEAKERS.items():
        for spk in spks:
            out[f"{ds}/{spk}"] = (lambda t, d=ds, s=spk: (t[0], t[1]) != (d, s),
                                  lambda t, d=ds, s=spk: (t[0], t[1]) == (d, s))
    for ds in pdata.SPEAKERS:
        out[ds] = (lambda t, d=ds: t[0] != d, lambda t, d=ds: t[0] == d)
    out["all"] = (lambda t: True, lambda t: True)
    return out


def feasibility(rows, praat, conds, params, log):
    """The ``--auc`` report (markdown lines)."""
    from bench_pitch_robust import counts, gpe_vde

    tab = table(rows, params)
    folds = folds_of(tab)
    held = {"speaker": [k for k in folds if "/" in k], "dataset": list(pdata.SPEAKERS)}
    zs = {}
    for kind, keys in held.items():
        for k in keys:
            tr, te = folds[k]
            w = logistic(*stack(tab, tr))
            for i, t in enumerate(tab):
                if te(t):
                    zs[(kind, i)] = t[3] @ w
    w_all = logistic(*stack(tab, lambda t: True))
    log(f"weights (all): {np.round(w_all, 4).tolist()}")
    L = ["| condition | " + " | ".join(f"AUC {n}" for n in NAMES[1:])
         + " | AUC model, speaker out | AUC model, dataset out | model error %, speaker out | "
           "prosync VDE % | Praat ac VDE % |",
         "|---|" + "---|" * (len(NAMES) - 1 + 5)]
    from bench_pitch_robust import sample_nearest

    from prosync.engine import pitch as ep

    pros = {}
    for _ds, _spk, cond, _n, feat, ref_t, ref_f0 in rows:
        t, f = pitch_sim.replay(feat, ep.tracker_params(feat["tau_min"], params))
        pros[cond] = pros.get(cond, 0) + counts(sample_nearest(t, f, ref_t), ref_f0)
    for cond in conds + ["all"]:
        idx = [i for i, t in enumerate(tab) if cond == "all" or t[2] == cond]
        X = np.concatenate([tab[i][3] for i in idx])
        y = np.concatenate([tab[i][4] for i in idx])
        cells = [f"{auc(X[:, k], y):.3f}" for k in range(1, X.shape[1])]
        zsp = np.concatenate([zs[("speaker", i)] for i in idx])
        zds = np.concatenate([zs[("dataset", i)] for i in idx])
        cells += [f"{auc(zsp, y):.3f}", f"{auc(zds, y):.3f}",
                  f"{100 * np.mean((zsp > 0) != y):.2f}"]
        pc = sum(pros.values()) if cond == "all" else pros[cond]
        pr = sum((v for (d, c), v in praat.items() if cond in ("all", c)), np.zeros(4, np.int64))
        cells += [f"{gpe_vde(pc)[1]:.2f}", f"{gpe_vde(pr)[1]:.2f}"]
        L.append(f"| {cond} | " + " | ".join(cells) + " |")
    return L, w_all


def praat_counts(rows, items, conds, data):
    from bench_pitch_robust import counts, sample_nearest

    pr_out = pitch_sim.praat_outputs(items, conds, data)
    praat = {}
    for ds, _spk, cond, name, _f, ref_t, ref_f0 in rows:
        k = (ds, cond)
        praat[k] = praat.get(k, 0) + counts(sample_nearest(*pr_out[(cond, name)], ref_t), ref_f0)
    return praat


#: The Viterbi constants retuned with the voicing model in place (the rest stay as shipped), and
#: where the search starts, per mode: "replace" (the model's log-odds instead of the energy
#: terms of the unvoiced cost), "add" (on top of the shipped unvoiced cost, only the gain and
#: the two voicing costs retuned), "both" (on top, with the energy term's weight retuned too) or
#: "voicing" (instead of the energy terms, only the gain and the two voicing costs retuned).
TUNE = {"replace": ("v_gain", "uv_base", "vuv", "jump", "octave", "nac_weight"),
        "add": ("v_gain", "uv_base", "vuv"),
        "both": ("v_gain", "uv_base", "uv_db", "vuv", "jump", "octave", "nac_weight"),
        "voicing": ("v_gain", "uv_base", "vuv")}
START = {"replace": {"v_gain": 0.1, "uv_db": 0.0, "uv_base": 0.3}, "add": {"v_gain": 0.02},
         "both": {"v_gain": 0.05, "uv_db": 0.008, "uv_base": 0.25},
         "voicing": {"v_gain": 0.1, "uv_db": 0.0, "uv_base": 0.3}}


def fit_fold(rows, tab, train, praat, base, iters, log, mode):
    """Weights on the training speakers' frames, then the Viterbi constants of :data:`TUNE`."""
    w = logistic(*stack(tab, train))
    start = dict(base)
    start["v_weights"] = [float(f"{v:.4g}") for v in w]
    start.update(START[mode])
    keep = [r for r, t in zip(rows, tab) if train(t)]
    steps = {k: pitch_sim.STEPS[k] for k in TUNE[mode] if k in pitch_sim.STEPS}
    steps["v_gain"] = ("m", 1.5)
    old_steps, old_bounds = dict(pitch_sim.STEPS), dict(pitch_sim.BOUNDS)
    pitch_sim.STEPS.clear()
    pitch_sim.STEPS.update(steps)
    pitch_sim.BOUNDS["v_gain"] = (0.005, 2.0)
    try:
        p = pitch_sim.fit(keep, praat, start, iters, log=log)
    finally:
        pitch_sim.STEPS.clear()
        pitch_sim.STEPS.update(old_steps)
        pitch_sim.BOUNDS.clear()
        pitch_sim.BOUNDS.update(old_bounds)
    p["v_weights"] = start["v_weights"]
    return p


def main(argv=None):
    from bench_pitch_robust import gpe_vde

    from prosync.engine import pitch as ep

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--auc", action="store_true", help="the feasibility look only")
    ap.add_argument("--per-speaker", type=int, default=8)
    ap.add_argument("--iters", type=int, default=150)
    ap.add_argument("--conds", help="comma-separated subset of conditions")
    ap.add_argument("--mode", choices=tuple(TUNE), default="replace")
    ap.add_argument("--report-only", action="store_true",
                    help="the folds from the last run's JSON, no fitting")
    args = ap.parse_args(argv)
    t0, log = pitch_sim.timer()
    data, items, conds, rows = pitch_sim.load_rows(
        args.per_speaker, log, [c for c in (args.conds or "").split(",") if c])
    praat = praat_counts(rows, items, conds, data)
    base = {k: v for k, v in ep.PARAMS.items() if k not in ("v_gain", "v_weights")}
    res = ROOT / "bench" / "results"
    if args.auc:
        L, _ = feasibility(rows, praat, conds, base, log)
        head = ["# Voicing evidence: feasibility (`python bench/fit_voicing.py --auc`)", "",
                "AUC of each evidence alone for voiced against unvoiced reference frames "
                "(FDA, PTDB, ARCTIC pooled; below 0.5: the evidence falls with voicing), of the "
                "logistic model with the speaker / the dataset held out, the model's own frame "
                "error (log-odds > 0, no Viterbi, speaker held out), and the VDE of prosync "
                "(shipped constants, in-sample) and Praat ac on the same frames.", ""]
        text = "\n".join(head + L) + f"\n\nRun: {time.perf_counter() - t0:.0f} s.\n"
        (res / "pitch_voicing_auc.md").write_text(text)
        print(text)
        return
    tab = table(rows, base)
    folds = {}
    loso, lodo = {}, {}
    # the rest of the constants: the fold's own (pitch_sim.py's, fitted without the same
    # speaker or dataset), so that nothing the held-out speaker's score depends on saw it
    old = json.loads((res / "pitch_folds.json").read_text())
    out_json = res / f"pitch_folds_voicing_{args.mode}.json"
    done = json.loads(out_json.read_text()) if args.report_only else {}
    for key, (train, test) in folds_of(tab).items():
        fb = old.get(key, base)
        folds[key] = done.get(key) or fit_fold(rows, tab if fb == base else table(rows, fb),
                                               train, praat, fb, args.iters, log, args.mode)
        if key == "all":
            continue
        sc = pitch_sim.score([r for r, t in zip(rows, tab) if test(t)], folds[key])
        dst = loso if "/" in key else lodo
        for k, c in sc.items():
            dst[k] = dst.get(k, 0) + c
    out_json.write_text(json.dumps(folds, indent=1))
    shipped = pitch_sim.score(rows, base)
    # current main's tracker, held out the same way (pitch_sim.py's folds, one speaker out)
    main_loso = {}
    for key, (_train, test) in folds_of(tab).items():
        if "/" in key and key in old:
            sel = [r for r, t in zip(rows, tab) if test(t)]
            for k, c in pitch_sim.score(sel, old[key]).items():
                main_loso[k] = main_loso.get(k, 0) + c
    L = ["# The learned voicing decision, tuned with speakers held out "
         "(`python bench/fit_voicing.py`)", "",
         f"{len(items)} files x {len(conds)} conditions. Per fold: logistic weights on the "
         f"training speakers' frames, then (mode {args.mode}) the Viterbi constants "
         f"({', '.join(TUNE[args.mode])}) by `pitch_sim.fit` ({args.iters} trials) on the same speakers. "
         "GPE % / VDE % of the tracker replayed on cached candidates (before the full-rate "
         "refinement). 'main': the tracker without the model, one speaker out "
         "(`pitch_folds.json`); 'shipped': its constants fitted on all (in-sample).", "",
         "| dataset | condition | one speaker out | one dataset out | main, one speaker out | "
         "shipped | Praat ac |",
         "|---|---|---|---|---|---|---|"]
    srcs = (("speaker", loso), ("dataset", lodo), ("main", main_loso), ("shipped", shipped))
    wins = {k: [0, 0, 0] for k, _ in srcs}
    for ds in pdata.SPEAKERS:
        for c in conds:
            k = (ds, c)
            pr = gpe_vde(praat[k])
            cells = []
            for name, src in srcs:
                g, v = gpe_vde(src[k])
                wins[name][0] += g <= pr[0] + 1e-9
                wins[name][1] += v <= pr[1] + 1e-9
                wins[name][2] += (g <= pr[0] + 1e-9) and (v <= pr[1] + 1e-9)
                cells.append(f"{g:.2f} / {v:.2f}")
            L.append(f"| {ds} | {c} | " + " | ".join(cells) + f" | {pr[0]:.2f} / {pr[1]:.2f} |")
    pooled = {k: [0, 0, 0] for k, _ in srcs}
    L += ["", "Pooled over the three datasets:", "",
          "| condition | one speaker out | one dataset out | main, one speaker out | shipped | "
          "Praat ac |",
          "|---|---|---|---|---|---|"]
    for c in conds:
        pr = gpe_vde(sum(praat[(d, c)] for d in pdata.SPEAKERS))
        cells = []
        for name, src in srcs:
            g, v = gpe_vde(sum(src[(d, c)] for d in pdata.SPEAKERS))
            pooled[name][0] += g <= pr[0] + 1e-9
            pooled[name][1] += v <= pr[1] + 1e-9
            pooled[name][2] += (g <= pr[0] + 1e-9) and (v <= pr[1] + 1e-9)
            cells.append(f"{g:.2f} / {v:.2f}")
        L.append(f"| {c} | " + " | ".join(cells) + f" | {pr[0]:.2f} / {pr[1]:.2f} |")
    means = {name: np.mean([gpe_vde(sum(src[(d, c)] for d in pdata.SPEAKERS)) for c in conds],
                           axis=0) for name, src in srcs}
    means["Praat ac"] = np.mean([gpe_vde(sum(praat[(d, c)] for d in pdata.SPEAKERS))
                                 for c in conds], axis=0)
    L.append("| mean of the rows | " + " | ".join(f"{v[0]:.2f} / {v[1]:.2f}"
                                                  for v in means.values()) + " |")
    L += ["", "Cells at or below Praat ac (GPE, VDE, both) per dataset, of "
          f"{len(conds) * len(pdata.SPEAKERS)}: "
          + "; ".join(f"{k}: {v[0]}, {v[1]}, {v[2]}" for k, v in wins.items())
          + f". Pooled, of {len(conds)}: "
          + "; ".join(f"{k}: {v[0]}, {v[1]}, {v[2]}" for k, v in pooled.items()) + ".", ""]
    keys = [k for k in folds if k != "all"]
    L += ["| constant | " + " | ".join(f"without {k}" for k in keys) + " | all |",
          "|---|" + "---|" * (len(keys) + 1)]
    for k in TUNE[args.mode]:
        L.append(f"| {k} | " + " | ".join(f"{folds[d][k]:.4g}" for d in keys + ["all"]) + " |")
    for j, n in enumerate(NAMES):
        L.append(f"| w {n} | " + " | ".join(f"{folds[d]['v_weights'][j]:.4g}"
                                           for d in keys + ["all"]) + " |")
    L += ["", f"Run: `nice -n 5 python bench/fit_voicing.py {' '.join(argv or sys.argv[1:])}` "
          f"({time.perf_counter() - t0:.0f} s)."]
    (res / f"pitch_voicing_{args.mode}.md").write_text("\n".join(L) + "\n")
    print("\n".join(L))


if __name__ == "__main__":
    main()
