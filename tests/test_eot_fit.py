"""bench/_eot_fit.py (the end-of-turn bench's cue z-scores and fitted combination) against
slow, obviously correct twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from bench._eot_fit import N0, auc, fit_logistic, running_z


def _log(values):
    """Log entries as the tracker writes them, with ``values`` as the raw measures."""
    return [(float(i), (), 0, 0.0, 0, tuple(v)) for i, v in enumerate(values)]


def test_running_z_is_each_end_against_the_users_earlier_ends_shrunk_to_the_population():
    rng = np.random.default_rng(3)
    vals = rng.normal(2.0, 1.5, (12, 7))
    vals[:, 5] = rng.uniform(0.2, 3.0, 12)      # ipu_s: the z-scores read its log
    vals[4, 0] = vals[7, 2] = math.nan          # missing measures score 0, stay out of history
    pm, ps = rng.normal(0, 1, 7), rng.uniform(0.5, 2.0, 7)
    got = running_z(_log(vals), pm, ps)
    x = vals.copy()
    x[:, 5] = np.log(x[:, 5])
    for i in range(len(x)):
        for j in range(7):
            if not math.isfinite(x[i, j]):
                assert got[i, j] == 0.0
                continue
            h = [v for v in x[:i, j] if math.isfinite(v)]
            mean = (N0 * pm[j] + sum(h)) / (N0 + len(h))
            var = (N0 * ps[j] ** 2 + sum((v - mean) ** 2 for v in h)) / (N0 + len(h))
            assert got[i, j] == pytest.approx((x[i, j] - mean) / math.sqrt(var), rel=1e-9)


def test_fit_logistic_minimises_the_ridge_penalised_log_loss():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 3))
    y = rng.random(40) < 1 / (1 + np.exp(-(x @ [1.0, -0.5, 0.0] + 0.3)))
    lam = 3.0

    def loss(beta):
        z = x @ beta[:3] + beta[3]
        return np.sum(np.logaddexp(0, z) - y * z) + lam / 2 * np.sum(beta[:3] ** 2)

    ref = minimize(loss, np.zeros(4), method="BFGS", options={"gtol": 1e-10}).x
    w, b = fit_logistic(x, y.astype(float), lam)
    np.testing.assert_allclose(w, ref[:3], atol=1e-5)
    assert b == pytest.approx(ref[3], abs=1e-5)


def test_auc_counts_pairs_with_ties_half():
    y = np.array([True, True, False, False])
    assert auc(np.array([3.0, 2.0, 1.0, 0.0]), y) == 1.0
    assert auc(np.array([0.0, 1.0, 2.0, 3.0]), y) == 0.0
    assert auc(np.array([1.0, 0.0, 1.0, 0.0]), y) == 0.5
    assert auc(np.array([2.0, 1.0, 1.0, 0.0]), y) == pytest.approx(3.5 / 4)
