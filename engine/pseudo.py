"""Pseudo-dyad significance of synchrony across the sessions of a corpus (rMEA ``shuffle``).

Real synchrony of a session is the grand average of its windowed lagged cross-correlation:
the mean over every window and lag of ``|Fisher z(r)|`` (rMEA's ``grandAver`` with ``r2Z=TRUE,
ABS=TRUE``; :func:`prosync.engine.wcc.wcc`). Pseudo-synchrony is the same statistic for two voices
that never talked to each other: the first speaker of session ``i`` with the second speaker of
session ``j != i``, every such ordered pair, each truncated to the shorter of the two series
(rMEA's ``unequalCbind(..., keep=FALSE)``). The effect size is Cohen's d between the real and
the pseudo grand averages, with the pooled standard deviation (ddof 1):

    d = (mean(real) - mean(pseudo)) / sqrt(((n_r - 1) s_r^2 + (n_p - 1) s_p^2) / (n_r + n_p - 2))

Differences from rMEA's ``shuffle()``, on purpose: rMEA pools all 2N series and takes every
unordered combination minus the real pairs, so it also pairs two first speakers (or two second
speakers) and never both orders of a cross pair; ``pairing="rmea"`` reproduces that choice. rMEA
then drops every time point where either series is NA (``na.omit``), which shifts one series
against the other after a gap; here missing values stay in place (the WCC skips them), so the
time base of each series is kept. All pairings are used up to ``max_pairs`` (2,000), a seeded
sample of that many beyond (rMEA samples ``size`` of them).

This is the only pseudo-dyad code: ``prosync corpus`` runs it on the sessions' ``series`` tables.
Its WCC settings default to the synchrony preset every door uses
(:data:`prosync.engine.config.DEFAULT_PRESET`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .config import DEFAULT_PRESET, SyncConfig
from .errors import ProsyncError
from .wcc import wcc

__all__ = ["PseudoFeature", "cohens_d", "grand_average", "pseudo_dyads", "pseudo_summary", "welch_p"]

_PAIRINGS = ("cross", "rmea")


@dataclass(frozen=True)
class PseudoFeature:
    """Real versus pseudo-dyad synchrony of one feature.

    ``real``: session -> grand average |z| (NaN where the session gives no window);
    ``pseudo``: ((session, speaker), (session, speaker)) -> grand average of that pairing, with
    speaker 0 or 1 (``cross``: always speaker 0 of the first session with speaker 1 of the
    second). ``cohens_d`` > 0: real sessions synchronise more than pseudo-dyads. ``reason``
    says why ``cohens_d`` is NaN (empty otherwise); ``skipped`` lists pairings without a value.
    """

    feature: str
    real: dict
    pseudo: dict
    real_mean: float
    real_sd: float
    pseudo_mean: float
    pseudo_sd: float
    cohens_d: float
    n_real: int
    n_pseudo: int
    #: Two-sided Welch t-test p of real against pseudo (see :func:`welch_p`); NaN with d.
    p_value: float = math.nan
    reason: str = ""
    skipped: list = field(default_factory=list)
    #: The WCC settings used: rate_hz, lag_s, window_s, step_s.
    settings: dict = field(default_factory=dict)


#: Spreads below this fraction of the values' magnitude are zero (float rounding of identical
#: values leaves about 1e-17, which would make d a ratio of two rounding errors).
ZERO_SPREAD = 1e-9


def _no_spread(x: np.ndarray, y: np.ndarray, pooled: float) -> bool:
    scale = max(float(np.abs(x).max(initial=0.0)), float(np.abs(y).max(initial=0.0)), 1e-300)
    return not pooled > ZERO_SPREAD * scale


def cohens_d(x, y) -> float:
    """Cohen's d of ``x`` against ``y`` with the pooled sd (ddof 1); NaN if undefined: fewer
    than 2 values on a side, or no spread on either side (both sds zero up to rounding)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    nx, ny = len(x), len(y)
    if nx < 2 or ny < 2:
        return math.nan
    pooled = math.sqrt(((nx - 1) * x.var(ddof=1) + (ny - 1) * y.var(ddof=1)) / (nx + ny - 2))
    return math.nan if _no_spread(x, y, pooled) else float((x.mean() - y.mean()) / pooled)


def welch_p(x, y) -> float:
    """Two-sided p of Welch's t-test of mean(x) = mean(y) (``scipy.stats.ttest_ind`` with
    ``equal_var=False``); NaN where :func:`cohens_d` is undefined.

    The pseudo-dyads reuse each session's speakers, so they are not independent draws: read p
    as a guide beside d, not as an exact error rate.
    """
    from scipy.stats import ttest_ind

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if not math.isfinite(cohens_d(x, y)):
        return math.nan
    return float(ttest_ind(x, y, equal_var=False).pvalue)


def grand_average(s1, s2, *, rate_hz: float, lag_s: float, window_s: float, step_s: float) -> float:
    """rMEA's ``grandAver`` of |Fisher z| over all windows and lags (windows more than half
    missing count as all-NaN rows); NaN when no cell is defined.

    Raises :class:`ProsyncError` when the series are too short for one window.
    """
    m = wcc(s1, s2, rate_hz=rate_hz, lag_s=lag_s, window_s=window_s, step_s=step_s,
            fisher_z=True, absolute=True, sparse="nan").matrix
    ok = ~np.isnan(m)
    return float(m[ok].mean()) if ok.any() else math.nan


def _series(v, what: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        s1, s2 = v
    except (TypeError, ValueError):
        raise ProsyncError(f"{what} must be a pair (s1, s2) of 1-D series") from None
    s1 = np.asarray(s1, dtype=np.float64)
    s2 = np.asarray(s2, dtype=np.float64)
    if s1.ndim != 1 or s2.ndim != 1:
        raise ProsyncError(f"{what}: s1 and s2 must be 1-D series, got shapes {s1.shape}, {s2.shape}")
    return s1, s2


def pseudo_dyads(sessions: Mapping, *, preset: str | SyncConfig = DEFAULT_PRESET,
                 rate_hz: float | None = None, lag_s: float | None = None,
                 window_s: float | None = None, step_s: float | None = None, features=None,
                 pairing: str = "cross", max_pairs: int | None = 2000,
                 seed: int = 0) -> dict[str, PseudoFeature]:
    """Real and pseudo-dyad synchrony per feature, and Cohen's d between them.

    Parameters
    ----------
    sessions : mapping
        ``session -> {feature: (s1, s2)}``: per session and feature the two speakers' series at
        ``rate_hz`` (NaN = missing), e.g. the ``Update.series`` a :class:`~prosync.Session`
        emitted, concatenated. A bare ``(s1, s2)`` pair instead of the dict is feature
        ``"value"``. At least 2 sessions.
    preset : str or SyncConfig
        Synchrony settings the WCC takes its rate, lag, window and step from: a preset name
        (``"live"``, ``"research"``) or a :class:`~prosync.engine.config.SyncConfig`
        (default: the default preset, as for a session).
    rate_hz, lag_s, window_s, step_s : float, optional
        Override the preset's WCC settings one by one.
    features : sequence of str, optional
        Features to analyse (default: those every session has).
    pairing : {"cross", "rmea"}
        ``"cross"``: every ordered pair (s1 of session i, s2 of session j), i != j:
        N(N-1) pseudo-dyads. ``"rmea"``: rMEA's choice, every unordered pair of the 2N series
        except the real pairs: C(2N, 2) - N pseudo-dyads (also s1 with s1, s2 with s2).
    max_pairs : int or None
        At most this many pseudo-dyads: a sample drawn with ``seed`` when there are more
        (None: all of them).

    Returns
    -------
    dict
        feature -> :class:`PseudoFeature`.
    """
    sync = preset if isinstance(preset, SyncConfig) else SyncConfig.preset(preset)
    kw = dict(rate_hz=sync.rate_hz if rate_hz is None else rate_hz,
              lag_s=sync.lag_s if lag_s is None else lag_s,
              window_s=sync.window_s if window_s is None else window_s,
              step_s=sync.step_s if step_s is None else step_s)
    if max_pairs is not None and max_pairs < 2:
        raise ProsyncError(f"max_pairs={max_pairs} is too few: use 2 or more, or None for all")
    if pairing not in _PAIRINGS:
        raise ProsyncError(f"pairing must be 'cross' or 'rmea', got {pairing!r}")
    if not isinstance(sessions, Mapping) or len(sessions) < 2:
        raise ProsyncError("pseudo-dyads need a mapping of at least 2 sessions "
                           "(session -> {feature: (s1, s2)})")
    data: dict = {}
    for name, v in sessions.items():
        d = v if isinstance(v, Mapping) else {"value": v}
        data[name] = {f: _series(p, f"session {name!r} feature {f!r}") for f, p in d.items()}
    common = set.intersection(*(set(d) for d in data.values()))
    if features is None:
        features = sorted(common)
        if not features:
            raise ProsyncError("the sessions have no feature in common: give each session the "
                               "same feature names")
    else:
        features = [str(f) for f in features]
        missing = [f for f in features if f not in common]
        if missing:
            raise ProsyncError(f"feature {missing[0]!r} is missing from some sessions: give every "
                               "session every feature, or choose features= among those they share")
    names = list(data)
    if pairing == "cross":
        pairs = [((i, 0), (j, 1)) for i in names for j in names if i != j]
    else:
        pool = [(s, 0) for s in names] + [(s, 1) for s in names]
        pairs = [(p, q) for p, q in itertools.combinations(pool, 2)
                 if not (p[0] == q[0] and {p[1], q[1]} == {0, 1})]
    if max_pairs is not None and len(pairs) > max_pairs:
        pick = np.random.default_rng(seed).choice(len(pairs), max_pairs, replace=False)
        pairs = [pairs[k] for k in sorted(pick)]
    out = {}
    for f in features:
        skipped = []

        def ga(a, b, label, skipped=skipped):
            n = min(len(a), len(b))
            try:
                return grand_average(a[:n], b[:n], **kw)
            except ProsyncError as exc:
                skipped.append((label, str(exc)))
                return math.nan

        real = {s: ga(*data[s][f], s) for s in names}
        pseudo = {(p, q): ga(data[p[0]][f][p[1]], data[q[0]][f][q[1]], (p, q)) for p, q in pairs}
        r = np.array([v for v in real.values() if math.isfinite(v)])
        ps = np.array([v for v in pseudo.values() if math.isfinite(v)])
        d = cohens_d(r, ps)
        reason = ""
        if len(r) < 2:
            reason = f"{len(r)} session(s) with a defined grand average: need 2"
        elif len(ps) < 2:
            reason = f"{len(ps)} pseudo-dyad(s) with a defined grand average: need 2"
        elif not math.isfinite(d):
            reason = ("no spread: every real and every pseudo-dyad value is the same, so the "
                      "effect size is undefined")
        out[f] = PseudoFeature(
            feature=f, real=real, pseudo=pseudo,
            real_mean=float(r.mean()) if len(r) else math.nan,
            real_sd=float(r.std(ddof=1)) if len(r) > 1 else math.nan,
            pseudo_mean=float(ps.mean()) if len(ps) else math.nan,
            pseudo_sd=float(ps.std(ddof=1)) if len(ps) > 1 else math.nan,
            cohens_d=d, n_real=len(r), n_pseudo=len(ps), p_value=welch_p(r, ps), reason=reason,
            skipped=skipped, settings=dict(kw))
    return out


def pseudo_summary(res: Mapping[str, PseudoFeature], *, preset: str | SyncConfig = DEFAULT_PRESET,
                   n_sessions: int | None = None, reason: str = "") -> dict:
    """A JSON-ready summary of :func:`pseudo_dyads` (``corpus_summary.json``'s ``pseudo_dyads``).

    ``res`` may be empty (``reason`` says why: e.g. fewer than 2 sessions); values are rounded
    to 4 decimals and undefined ones are None.
    """
    sync = preset if isinstance(preset, SyncConfig) else SyncConfig.preset(preset)
    settings = next(iter(res.values())).settings if res else dict(
        rate_hz=sync.rate_hz, lag_s=sync.lag_s, window_s=sync.window_s, step_s=sync.step_s)

    def j(v):
        return round(float(v), 4) if v is not None and math.isfinite(v) else None

    feats = {f: {"real_mean": j(r.real_mean), "real_sd": j(r.real_sd),
                 "pseudo_mean": j(r.pseudo_mean), "pseudo_sd": j(r.pseudo_sd),
                 "n_real": r.n_real, "n_pseudo": r.n_pseudo, "cohens_d": j(r.cohens_d),
                 "p_value": j(r.p_value), "reason": r.reason or None} for f, r in res.items()}
    n = max((len(r.pseudo) for r in res.values()), default=0)
    if n_sessions is None:
        n_sessions = len(next(iter(res.values())).real) if res else 0
    return {"settings": {**settings,
                         "statistic": "grand average of |Fisher z| over windows and lags"},
            "sessions": n_sessions,
            "pseudo_pairs": n, "features": feats, "reason": reason or None}
