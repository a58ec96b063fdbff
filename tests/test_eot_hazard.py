"""bench/_eot_hazard.py (the timer part's variants) and the per-dataset cue audit of
bench/_eot_fit.py against slow, obviously correct twins and the engine's own model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench._eot_fit import auc, dataset_audit
from bench._eot_hazard import VARIANTS, best_at, fires, logit_curve, silences
from prosync.engine.config import HOP_S, EndOfTurnConfig
from prosync.engine.endofturn import silence_logit

SHIPPED = VARIANTS["shipped: the user's pauses and hand-over odds"][0]


def _run(rng, n_sil=10, name="c", user="u", dataset="ami"):
    """A run as the bench stores it: the tracker's log (running pause sums, one pause counted
    at most between two silences), the user's raw speech flags, the advised delays."""
    speech = np.zeros(4000, bool)
    log, t, n_p, s_lp, n_end, pauses = [], 0.3, 0, 0.0, 0, []
    for _ in range(n_sil):
        k0 = int(round(t / HOP_S))
        speech[k0:k0 + 40] = True
        e = (k0 + 40) * HOP_S
        log.append((e, (0.5,) * 7, n_p, s_lp, n_end,
                    tuple(rng.normal(0, 1, 7).tolist())))
        gap = float(rng.uniform(0.1, 2.5))
        if rng.random() < 0.6:  # the tracker counted this silence as a pause of the user
            n_p += 1
            s_lp += math.log(gap)
            pauses.append(math.log(gap))
        else:
            n_end += rng.integers(0, 2)
        t = e + gap
    advised = np.array([[0.0, 250.0, 250.0], [3.0, 400.0, 500.0]])
    return {"log": log, "speech_raw": speech, "advised": advised, "name": name, "user": user,
            "dataset": dataset}, pauses


def test_silences_recover_the_users_counted_pauses_from_the_logs_running_sums():
    r, pauses = _run(np.random.default_rng(1))
    sil = silences(r, 3.0)
    for (e, m, got, _n_end, gap), entry in zip(sil, r["log"], strict=True):
        assert len(got) == entry[2]
        assert sum(got) == pytest.approx(entry[3], abs=1e-9)
        assert list(got) == pytest.approx(pauses[:entry[2]])
        k = round(e / HOP_S)
        assert not r["speech_raw"][k:k + m].any()
        assert m == int(round(3.0 / HOP_S)) or r["speech_raw"][k + m]
        assert gap == (0.25 if e < 3.0 else 0.4)


def test_the_shipped_variant_is_the_engines_model():
    cfg = EndOfTurnConfig(bias=0.0, cue_weight=0.0)
    t = np.arange(1, 301) * HOP_S
    rng = np.random.default_rng(2)
    for _ in range(5):
        lp = rng.normal(-0.5, 0.6, rng.integers(0, 6))
        n_end = int(rng.integers(0, 4))
        want = silence_logit(cfg, t, (0.5,) * 7, lp.size, float(lp.sum()), n_end)
        got = logit_curve(SHIPPED, tuple(lp), n_end, 0.25, t)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("label", list(VARIANTS))
def test_fires_equal_a_frame_by_frame_twin(label):
    r, _ = _run(np.random.default_rng(3))
    sil = silences(r, 3.0)
    p = VARIANTS[label][-1]
    offs = (-3.0, -1.5, 0.0, 1.0)
    got = fires(sil, p, offs)
    for o in offs:
        want = []
        for e, m, pauses, n_end, gap in sil:
            for j in range(m):
                s = (j + 1) * HOP_S
                if s < 0.2 - 1e-9:
                    continue
                if logit_curve(p, pauses, n_end, gap, np.array([s]))[0] + o >= 0:
                    want.append(e + s)
                    break
        assert got[o] == pytest.approx(want)


def test_best_at_takes_the_least_latency_within_the_false_interruptions():
    pts = [(5, 10, 8, 10, 900.0), (3, 10, 6, 10, 1500.0), (3, 10, 7, 10, 1500.0),
           (1, 10, 0, 10, math.inf)]
    assert best_at(pts, 4) == (3, 10, 7, 10, 1500.0)
    assert best_at(pts, 5) == (5, 10, 8, 10, 900.0)
    assert best_at(pts, 1) is None


def test_dataset_audit_counts_and_aucs_per_group():
    rng = np.random.default_rng(4)
    runs = []
    for i, ds in enumerate(("ami", "ami", "candor", "phone")):
        r, _ = _run(rng, name=f"{ds}{i}", dataset=ds)
        ends = [entry[0] for entry in r["log"]]
        r["events"] = [(e, "SHIFT" if j % 3 == 0 else "HOLD", e + 1.0, e + 1.5)
                       for j, e in enumerate(ends)]
        if ds == "phone":
            r["events"] = [(e, "SHIFT", e + 1.0, e + 0.5) for e in ends]
        runs.append(r)
    aud = {a["group"]: a for a in dataset_audit(runs)}
    assert aud["ami"]["n_hold"] + aud["ami"]["n_shift"] == 20
    assert aud["phone"]["n_hold"] == 0
    assert all(v == [None, None] for v in aud["phone"]["auc"].values())
    ct = aud["close-talk (candor + phone)"]
    assert ct["n_shift"] == aud["candor"]["n_shift"] + aud["phone"]["n_shift"]
    assert ct["hold_users"] == ["candor2 u"]
    # the raw measure's AUC is the plain AUC of the group's events
    vals = [(r["log"][j][5][0], e[1] == "SHIFT") for r in runs if r["dataset"] == "ami"
            for j, e in enumerate(r["events"])]
    s, y = np.array([v[0] for v in vals]), np.array([v[1] for v in vals])
    assert aud["ami"]["auc"]["f0_end_st"][0][0] == pytest.approx(auc(s, y))
