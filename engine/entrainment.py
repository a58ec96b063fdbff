"""Turn-level entrainment: TAMA (Kousidis et al. 2008) and Levitan & Hirschberg (2011).

(Over 400 lines: two published methods, each reproduced step by step with the reference
package's arithmetic next to the NaN-aware default, so they read side by side with the tests
that compare them; splitting per method is the next step if either grows.)

A pure function layer: inputs are IPUs or turns that already carry feature values (how they were
produced, by the turn tracker or a transcript, does not matter here). Nothing here keeps state.

* :func:`ipu_features` turns per-frame arrays (``f0_hz``, ``energy_db`` at frame times ``t_s``)
  into per-IPU mean/max F0 (Hz and semitones re the speaker median) and mean/max energy (dB).
* TAMA, "time-aligned moving average", computed exactly as the PyPI package
  ``entrainment-metrics`` 1.0.6 computes it, quirks included (see :func:`tama`):
  :func:`tama_frame_grid`, :func:`tama_series`, :func:`tama_cross_correlation`,
  :func:`tama_synchrony`.
* Levitan & Hirschberg 2011 turn-level (local) proximity, convergence and synchrony on
  adjacent turn pairs (turn exchanges): :func:`local_proximity`, :func:`local_convergence`,
  :func:`local_synchrony`, and :func:`levitan_hirschberg` for several features at once.

Degenerate inputs (too few frames or turns, all-NaN features, zero variance) give NaN together
with a ``reason`` string, never an exception. Malformed inputs (mismatched lengths, an IPU that
ends before it starts, non-finite times) raise :class:`~prosync.engine.errors.ProsyncError` with
one line naming the problem and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import stdtr  # Student's t CDF; scipy.stats would cost ~50 MB at import

from .errors import ProsyncError

__all__ = [
    "IPU",
    "Turn",
    "IpuFeatures",
    "ipu_features",
    "TamaSeries",
    "TamaSynchrony",
    "TamaResult",
    "tama_frame_grid",
    "tama_series",
    "tama_cross_correlation",
    "tama_synchrony",
    "tama",
    "LocalStat",
    "LocalProximity",
    "TurnPairs",
    "turn_pairs",
    "turns_from_ipus",
    "local_proximity",
    "local_convergence",
    "local_synchrony",
    "LHResult",
    "levitan_hirschberg",
    "LH_FEATURES",
]

#: Features of Levitan & Hirschberg 2011 in prosync names: IPU mean/max F0, mean/max intensity,
#: speech rate (syllables per second).
LH_FEATURES = ("f0_mean_hz", "f0_max_hz", "energy_mean_db", "energy_max_db", "rate_sps")


# ------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IPU:
    """One inter-pausal unit of one speaker.

    Attributes
    ----------
    speaker : str
    start_s, end_s : float
        Times from session start, ``end_s >= start_s``.
    features : mapping of str to float
        Feature values, e.g. ``{"f0_mean_hz": 182.0}``; NaN marks an undefined value.
    """

    speaker: str
    start_s: float
    end_s: float
    features: Mapping[str, float] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Turn:
    """One turn (a run of one speaker's IPUs) with feature values.

    Attributes
    ----------
    speaker : str
    start_s, end_s : float
    features : mapping of str to float
        Values for the whole turn.
    features_initial, features_final : mapping or None
        Values of the turn-initial and turn-final IPU. Levitan & Hirschberg compare the two IPUs
        on either side of a turn exchange (the last IPU of the previous turn and the first IPU of
        the next); when given, the pair measures use ``features_final`` of the earlier turn and
        ``features_initial`` of the later one, otherwise ``features`` for both.
    """

    speaker: str
    start_s: float
    end_s: float
    features: Mapping[str, float] = field(default_factory=dict)
    features_initial: Mapping[str, float] | None = None
    features_final: Mapping[str, float] | None = None


def _check_intervals(start_s, end_s, what: str) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(start_s, dtype=np.float64)
    e = np.asarray(end_s, dtype=np.float64)
    if s.ndim != 1 or e.ndim != 1 or s.shape != e.shape:
        raise ProsyncError(
            f"{what}: start_s has shape {s.shape} and end_s has shape {e.shape}: "
            "pass two 1-D arrays of equal length"
        )
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(e))):
        i = int(np.flatnonzero(~(np.isfinite(s) & np.isfinite(e)))[0])
        raise ProsyncError(
            f"{what} {i} has a non-finite time ({s[i]}, {e[i]}): give finite start_s and end_s"
        )
    bad = np.flatnonzero(e < s)
    if bad.size:
        i = int(bad[0])
        raise ProsyncError(
            f"{what} {i} ends before it starts (start_s={s[i]}, end_s={e[i]}): "
            "swap or fix its times so that end_s >= start_s"
        )
    return s, e


def _intervals_of(ipus) -> tuple[np.ndarray, np.ndarray]:
    """(start_s, end_s) arrays from a sequence of IPU/Turn objects or an (n, 2) array."""
    if isinstance(ipus, np.ndarray) or (
        isinstance(ipus, Sequence) and len(ipus) and not hasattr(ipus[0], "start_s")
    ):
        a = np.asarray(ipus, dtype=np.float64)
        if a.size == 0:
            a = a.reshape(0, 2)
        if a.ndim != 2 or a.shape[1] != 2:
            raise ProsyncError(
                f"ipus array has shape {a.shape}: pass an (n, 2) array of (start_s, end_s) "
                "rows or a list of IPU objects"
            )
        return _check_intervals(a[:, 0], a[:, 1], "IPU")
    ipus = list(ipus)
    return _check_intervals(
        [u.start_s for u in ipus], [u.end_s for u in ipus], "IPU"
    )


# ------------------------------------------------------------------------------------------------
# Per-IPU features from per-frame arrays
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IpuFeatures:
    """Per-IPU features, each an array of shape (n_ipus,). NaN where undefined."""

    f0_mean_hz: np.ndarray
    f0_max_hz: np.ndarray
    f0_mean_st: np.ndarray
    f0_max_st: np.ndarray
    energy_mean_db: np.ndarray
    energy_max_db: np.ndarray
    n_frames: np.ndarray
    n_voiced: np.ndarray
    ref_hz: float

    NAMES = ("f0_mean_hz", "f0_max_hz", "f0_mean_st", "f0_max_st", "energy_mean_db",
             "energy_max_db")

    def as_dicts(self) -> list[dict[str, float]]:
        """One ``{name: value}`` dict per IPU, ready for :class:`IPU` ``features``."""
        cols = [getattr(self, n) for n in self.NAMES]
        return [{n: float(c[i]) for n, c in zip(self.NAMES, cols, strict=True)}
                for i in range(self.n_frames.shape[0])]


def ipu_features(frames_t_s, f0_hz, energy_db, ipus, *, ref_hz: float | None = None
                 ) -> IpuFeatures:
    """Mean and max F0 and energy of each IPU from one speaker's per-frame arrays.

    A frame belongs to an IPU when its time ``t`` satisfies ``start_s <= t <= end_s`` (the rule
    used for the TAMA reference features). F0 is averaged over voiced frames only; energy over
    frames with a finite value.

    Parameters
    ----------
    frames_t_s : array, shape (n_frames,)
        Frame times in seconds, non-decreasing.
    f0_hz : array, shape (n_frames,)
        F0 per frame; NaN (or a value <= 0) marks an unvoiced frame.
    energy_db : array, shape (n_frames,)
        Energy (intensity) per frame in dB; non-finite values are ignored.
    ipus : sequence of IPU (or Turn), or array of shape (n_ipus, 2)
        The IPUs of this speaker, as objects with ``start_s``/``end_s`` or (start_s, end_s)
        rows. They may overlap and need not be sorted.
    ref_hz : float, optional
        Reference for semitones, ``st = 12 * log2(f0 / ref_hz)``. Default: the speaker median,
        the median F0 over the voiced frames inside the IPUs (speech only, so that bleed or
        noise outside the IPUs does not move it).

    Returns
    -------
    IpuFeatures
        ``f0_mean_hz``, ``f0_max_hz``; ``f0_mean_st`` (mean of the per-frame semitones, i.e. a
        log-domain mean) and ``f0_max_st``; ``energy_mean_db`` (arithmetic mean of dB values)
        and ``energy_max_db``; ``n_frames`` and ``n_voiced`` per IPU; the ``ref_hz`` used.
    """
    t = np.asarray(frames_t_s, dtype=np.float64)
    f0 = np.asarray(f0_hz, dtype=np.float64)
    en = np.asarray(energy_db, dtype=np.float64)
    if t.ndim != 1 or f0.shape != t.shape or en.shape != t.shape:
        raise ProsyncError(
            f"frames_t_s {t.shape}, f0_hz {f0.shape} and energy_db {en.shape} differ in shape: "
            "pass three 1-D per-frame arrays of equal length"
        )
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        raise ProsyncError(
            "frames_t_s is not finite and non-decreasing: pass the frame times in order"
        )
    start, end = _intervals_of(ipus)
    n = start.shape[0]
    lo = np.searchsorted(t, start, side="left")
    hi = np.searchsorted(t, end, side="right")
    n_frames = (hi - lo).astype(np.int64)

    voiced = np.isfinite(f0) & (f0 > 0)
    f0v = np.where(voiced, f0, 0.0)
    finite_en = np.isfinite(en)
    env = np.where(finite_en, en, 0.0)

    if ref_hz is None:
        inside = np.zeros(t.shape[0] + 1, dtype=np.int64)
        np.add.at(inside, lo, 1)
        np.add.at(inside, hi, -1)
        in_any = np.cumsum(inside[:-1]) > 0
        sel = f0[voiced & in_any]
        ref_hz = float(np.median(sel)) if sel.size else float("nan")
    elif not (np.isfinite(ref_hz) and ref_hz > 0):
        raise ProsyncError(f"ref_hz={ref_hz} is invalid: give a positive F0 in Hz or None")
    with np.errstate(divide="ignore", invalid="ignore"):
        st = np.where(voiced, 12.0 * np.log2(np.where(voiced, f0, 1.0) / ref_hz), 0.0)

    def seg(ufunc, x, fill):
        """ufunc.reduceat over [lo, hi) per IPU; ``fill`` where the IPU has no frame."""
        if n == 0:
            return np.empty(0)
        xs = np.append(x, fill)  # index len(t) must be valid for reduceat
        idx = np.empty(2 * n, dtype=np.int64)
        idx[0::2] = lo
        idx[1::2] = hi
        out = ufunc.reduceat(xs, idx)[0::2]
        return np.where(n_frames > 0, out, fill)

    n_voiced = np.rint(seg(np.add, voiced.astype(np.float64), 0.0)).astype(np.int64)
    n_en = np.rint(seg(np.add, finite_en.astype(np.float64), 0.0)).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        f0_mean = np.where(n_voiced > 0, seg(np.add, f0v, 0.0) / n_voiced, np.nan)
        st_mean = np.where(n_voiced > 0, seg(np.add, st, 0.0) / n_voiced, np.nan)
        en_mean = np.where(n_en > 0, seg(np.add, env, 0.0) / n_en, np.nan)
        f0_max = np.where(n_voiced > 0, seg(np.fmax, np.where(voiced, f0, np.nan), np.nan),
                          np.nan)
        en_max = np.where(n_en > 0, seg(np.fmax, np.where(finite_en, en, np.nan), np.nan),
                          np.nan)
        st_max = 12.0 * np.log2(f0_max / ref_hz)
    return IpuFeatures(f0_mean, f0_max, st_mean, st_max, en_mean, en_max, n_frames, n_voiced,
                       float(ref_hz))


# ------------------------------------------------------------------------------------------------
# TAMA (Kousidis et al. 2008) as entrainment-metrics 1.0.6 computes it
# ------------------------------------------------------------------------------------------------


def tama_frame_grid(duration_s: float, frame_s: float = 20.0, step_s: float = 10.0,
                    sample_rate: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times of the TAMA frames covering ``[0, duration_s]``.

    As ``entrainment_metrics.tama.utils.separate_frames``: frame ``k`` starts at ``k * step``
    and ends at ``min(k * step + frame, duration)``; frames are emitted while their start is
    before the end, so there are ``ceil(duration / step)`` frames and the last ones are
    truncated (possibly very short).

    Parameters
    ----------
    duration_s : float
        Length of the recording (the package uses the wav's sample count / rate).
    frame_s, step_s : float
        Frame length and step. prosync's default is 20/10 s; the package's fixed values are
        16/8 s.
    sample_rate : int, optional
        When given, the grid is computed in integer samples exactly as the package does
        (``n = round(duration_s * sample_rate)``, times = samples / rate). Otherwise in
        seconds, which gives the same floats whenever ``frame_s`` and ``step_s`` are integers.

    Returns
    -------
    starts_s, ends_s : arrays, shape (n_frames,)
    """
    if not (np.isfinite(frame_s) and np.isfinite(step_s) and frame_s > 0 and step_s > 0):
        raise ProsyncError(
            f"TAMA frame_s={frame_s}, step_s={step_s} are invalid: give positive seconds "
            "(prosync default 20 and 10, package default 16 and 8)"
        )
    if not (np.isfinite(duration_s) and duration_s >= 0):
        raise ProsyncError(
            f"duration_s={duration_s} is invalid: give the recording length in seconds (>= 0)"
        )
    if sample_rate is not None:
        if not (sample_rate > 0 and float(sample_rate).is_integer()):
            raise ProsyncError(f"sample_rate={sample_rate} is invalid: give a positive integer")
        sr = int(sample_rate)
        n = int(round(duration_s * sr))
        fl, ts = frame_s * sr, step_s * sr
        if not (float(fl).is_integer() and float(ts).is_integer()):
            raise ProsyncError(
                f"frame_s*sample_rate={fl} and step_s*sample_rate={ts} must be whole samples: "
                "choose frame_s and step_s that are multiples of 1/sample_rate"
            )
        k0 = np.arange(0, n, int(ts), dtype=np.int64)
        k1 = np.minimum(k0 + int(fl), n)
        return k0 / sr, k1 / sr
    nf = math.ceil(duration_s / step_s) if duration_s > 0 else 0
    starts = np.arange(nf, dtype=np.float64) * step_s
    starts = starts[starts < duration_s]
    return starts, np.minimum(starts + frame_s, duration_s)


@dataclass(frozen=True)
class TamaSeries:
    """One speaker's TAMA series for one feature.

    Attributes
    ----------
    values : array, shape (n_frames,)
        Duration-weighted frame means; NaN for a missing frame (no IPU).
    membership : bool array, shape (n_frames, n_ipus)
        ``membership[k, j]``: IPU ``j`` (of the IPUs with a defined value, in input order)
        counts in frame ``k``.
    ipu_indices_used : int array
        Indices into the input of the IPUs with a defined (non-NaN) value.
    """

    values: np.ndarray
    membership: np.ndarray
    ipu_indices_used: np.ndarray

    @property
    def is_missing(self) -> np.ndarray:
        return ~self.membership.any(axis=1)


def tama_series(start_s, end_s, values, frame_starts_s, frame_ends_s) -> TamaSeries:
    """Duration-weighted mean feature value of one speaker's IPUs in each frame.

    As ``Frame.calculate_feature_value``: an IPU belongs to a frame iff
    ``max(ipu.start, f.start) < min(ipu.end, f.end)`` (strict overlap, so one touching the
    frame edge is out, and an IPU can be in several frames). The frame value is
    ``sum_j v_j * d_j / sum_j d_j`` with ``d_j`` the IPU's **full** duration ``end - start``
    (IPUs are not clipped to the frame). A frame with no IPU is missing (NaN). IPUs whose value
    is NaN are dropped before framing.

    Parameters
    ----------
    start_s, end_s, values : arrays, shape (n_ipus,)
    frame_starts_s, frame_ends_s : arrays, shape (n_frames,)
        From :func:`tama_frame_grid`.
    """
    s, e = _check_intervals(start_s, end_s, "IPU")
    v = np.asarray(values, dtype=np.float64)
    if v.shape != s.shape:
        raise ProsyncError(
            f"{v.shape[0] if v.ndim == 1 else v.shape} feature values for {s.shape[0]} IPUs: "
            "pass one value per IPU (NaN where undefined)"
        )
    fs, fe = _check_intervals(frame_starts_s, frame_ends_s, "TAMA frame")
    used = np.flatnonzero(~np.isnan(v))
    s, e, v = s[used], e[used], v[used]
    d = e - s
    m = np.maximum(s[None, :], fs[:, None]) < np.minimum(e[None, :], fe[:, None])
    dsum = m @ d
    with np.errstate(invalid="ignore", divide="ignore"):
        # sum_j (v_j * d_j) / D, the package's order of operations
        terms = np.where(m, (v * d)[None, :] / dsum[:, None], 0.0)
        out = np.where(dsum > 0, terms.sum(axis=1), np.nan)
    out[~m.any(axis=1)] = np.nan
    return TamaSeries(out, m, used)


def tama_cross_correlation(a, b, max_lag: int = 6, *, min_terms: int = 4,
                           package_denominator: bool = False) -> np.ndarray:
    """TAMA sample cross-correlation r[h], h = 0..max_lag, of series ``a`` on lagged ``b``.

    As ``calculate_sample_correlation``: ``A = a - nanmean(a)``, ``B = b - nanmean(b)``;
    ``r[h] = nansum_{i=h}^{N-1} A[i] * B[i-h] / sqrt(sum(A**2) * nansum(B**2))``, and NaN
    unless at least ``min_terms`` (4) products are non-NaN. The denominator spans the whole
    series, not the overlap at each lag. **Lag direction:** r[h] pairs frame i of ``a`` with
    frame i-h of ``b``, so positive h means ``a`` follows ``b`` by h frames ("speaker converged
    to the behavior her partner had h frames before", a = speaker, b = partner); swap the
    arguments for the other direction.

    Missing frames (default, ``package_denominator=False``): both sums of squares skip missing
    frames (``np.nansum``), so a frame without an IPU only drops its own products. The package
    sums ``A**2`` with ``np.sum`` but ``B**2`` with ``np.nansum``, so one missing frame in ``a``
    makes every r NaN (a real 5-minute session with one silent 20 s frame gets no value) while
    missing frames in ``b`` count as 0; ``package_denominator=True`` reproduces that quirk
    exactly (the reference-exact mode the comparison tests use). Without missing frames both
    modes give the same r.

    Returns
    -------
    r : array, shape (max_lag + 1,)
        NaN where undefined (too few terms, a missing frame in ``a``, zero variance).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ProsyncError(
            f"TAMA series have shapes {a.shape} and {b.shape}: both must be 1-D, non-empty "
            "and on the same frame grid"
        )
    if int(max_lag) != max_lag or max_lag < 0:
        raise ProsyncError(f"max_lag={max_lag} is invalid: give an integer >= 0 (frames)")
    max_lag = int(max_lag)
    r = np.full(max_lag + 1, np.nan)
    if np.all(np.isnan(a)) or np.all(np.isnan(b)):
        return r
    A = a - np.nanmean(a)
    B = b - np.nanmean(b)
    ssa = np.sum(A**2) if package_denominator else np.nansum(A**2)
    den = np.sqrt(ssa * np.nansum(B**2))
    n = a.shape[0]
    for h in range(min(max_lag, n - 1) + 1):
        p = A[h:] * B[: n - h]
        if np.count_nonzero(~np.isnan(p)) >= min_terms:
            with np.errstate(invalid="ignore", divide="ignore"):
                r[h] = np.nansum(p) / den
    return r


@dataclass(frozen=True)
class TamaSynchrony:
    """Signed and unsigned synchrony (Pérez, Gálvez & Gravano 2016) from r[0..max_lag].

    ``signed`` is r at the lag with the largest |r| (the first such lag on ties), ``unsigned``
    its absolute value, ``lag`` that lag in frames (-1 when undefined), ``reason`` why NaN.
    """

    signed: float
    unsigned: float
    lag: int
    reason: str = ""


def tama_synchrony(r, max_lag: int | None = None) -> TamaSynchrony:
    """Signed/unsigned synchrony over lags 0..max_lag of ``r`` (all lags by default).

    Where the package raises ``ValueError: All-NaN slice encountered`` (``np.nanargmax`` of an
    all-NaN r), this returns NaN with a reason.
    """
    r = np.asarray(r, dtype=np.float64)
    if max_lag is not None:
        r = r[: int(max_lag) + 1]
    if r.size == 0 or np.all(np.isnan(r)):
        return TamaSynchrony(np.nan, np.nan, -1,
                             "every r(lag) is NaN: too few frames (at least 4 valid products "
                             "per lag), zero variance, or (reference mode) a missing frame in "
                             "the first series")
    k = int(np.nanargmax(np.abs(r)))
    return TamaSynchrony(float(r[k]), float(abs(r[k])), k)


def _why_all_nan(a: np.ndarray, b: np.ndarray, na: str, nb: str, package_den: bool) -> str:
    """The specific reason every r(lag) of ``a`` on ``b`` is NaN."""
    if a.size == 0:
        return "no TAMA frames: duration_s is 0"
    for s, name in ((a, na), (b, nb)):
        if np.all(np.isnan(s)):
            return f"speaker {name!r} has no IPU with a value in any frame"
    if package_den and np.any(np.isnan(a)):
        k = int(np.count_nonzero(np.isnan(a)))
        return (f"speaker {na!r} has {k} missing frame(s) and is the first series: the "
                "package's denominator (np.sum, not nansum) is then NaN")
    valid = np.count_nonzero(~np.isnan(a) & ~np.isnan(b))
    if valid < 4:
        return f"{valid} frames where both speakers have a value: TAMA needs at least 4 per lag"
    return "zero variance in a series: r(lag) is 0/0"


@dataclass(frozen=True)
class TamaResult:
    """TAMA for one feature and two speakers.

    ``r[(x, y)]`` is r(lag) with x as the following speaker ("a") and y as the partner ("b");
    both orders are given because the measure is one-sided and not symmetric.
    ``synchrony[(x, y)]`` is the matching :class:`TamaSynchrony`.
    """

    feature: str
    speakers: tuple[str, str]
    frame_start_s: np.ndarray
    frame_end_s: np.ndarray
    series: dict[str, TamaSeries]
    r: dict[tuple[str, str], np.ndarray]
    synchrony: dict[tuple[str, str], TamaSynchrony]


def tama(ipus: Iterable[IPU], feature: str, duration_s: float, *,
         speakers: tuple[str, str] | None = None, frame_s: float = 20.0, step_s: float = 10.0,
         max_lag: int = 6, sample_rate: int | None = None,
         package_denominator: bool = False) -> TamaResult:
    """TAMA entrainment of two speakers on one IPU feature, as entrainment-metrics 1.0.6.

    Steps: frame grid (:func:`tama_frame_grid`), duration-weighted frame values per speaker
    (:func:`tama_series`), r(lag) in both speaker orders (:func:`tama_cross_correlation`) and
    signed/unsigned synchrony (:func:`tama_synchrony`).

    Parameters
    ----------
    ipus : iterable of IPU
        Both speakers' IPUs; ``ipu.features[feature]`` is the value (missing key or NaN: the IPU
        is left out for this feature).
    feature : str
    duration_s : float
        Recording length, which sets the frame grid.
    speakers : (str, str), optional
        Default: the speakers in order of first appearance (exactly two required). Passing the
        same name twice correlates a speaker with itself, as the package's unit tests do.
    frame_s, step_s, max_lag, sample_rate, package_denominator
        See :func:`tama_frame_grid` and :func:`tama_cross_correlation` (missing frames are
        skipped by default; ``package_denominator=True`` is the package's exact arithmetic).
    """
    ipus = list(ipus)
    if speakers is None:
        seen = list(dict.fromkeys(u.speaker for u in ipus))
        if len(seen) != 2:
            raise ProsyncError(
                f"TAMA needs two speakers but the IPUs name {len(seen)} ({seen}): "
                "pass speakers=(a, b) explicitly"
            )
        speakers = (seen[0], seen[1])
    fs, fe = tama_frame_grid(duration_s, frame_s, step_s, sample_rate)
    series = {}
    for spk in dict.fromkeys(speakers):
        mine = [u for u in ipus if u.speaker == spk]
        series[spk] = tama_series(
            [u.start_s for u in mine], [u.end_s for u in mine],
            [u.features.get(feature, np.nan) for u in mine], fs, fe)
    a, b = speakers
    r, syn = {}, {}
    for x, y in dict.fromkeys([(a, b), (b, a)]):
        if fs.size == 0:
            r[(x, y)] = np.full(max_lag + 1, np.nan)
        else:
            r[(x, y)] = tama_cross_correlation(series[x].values, series[y].values, max_lag,
                                               package_denominator=package_denominator)
        sy = tama_synchrony(r[(x, y)])
        if sy.reason:
            sy = TamaSynchrony(sy.signed, sy.unsigned, sy.lag, _why_all_nan(
                series[x].values, series[y].values, x, y, package_denominator))
        syn[(x, y)] = sy
    return TamaResult(feature, (a, b), fs, fe, series, r, syn)


# ------------------------------------------------------------------------------------------------
# Levitan & Hirschberg 2011: turn-level proximity, convergence, synchrony
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalStat:
    """A correlation or test statistic with its p-value, sample size and NaN reason."""

    value: float
    p: float
    n: int
    reason: str = ""


@dataclass(frozen=True)
class LocalProximity:
    """Turn-level proximity: partner vs non-partner differences over turn exchanges.

    Attributes
    ----------
    partner_diff : array, shape (n_pairs,)
        ``|f(turn) - f(partner's preceding turn)|`` per exchange.
    nonpartner_diff : array, shape (n_pairs,)
        Mean ``|f(turn) - f(q)|`` over the partner's non-adjacent turns ``q``.
    mean_partner, mean_nonpartner : float
    t, p : float
        Paired t-test of ``nonpartner_diff - partner_diff`` (t > 0: partners closer than
        non-adjacent turns, i.e. proximity/entrainment; t < 0: disentrainment).
    n : int
        Number of exchanges used.
    reason : str
        Why t is NaN, else "".
    """

    partner_diff: np.ndarray
    nonpartner_diff: np.ndarray
    mean_partner: float
    mean_nonpartner: float
    t: float
    p: float
    n: int
    reason: str = ""


@dataclass(frozen=True)
class TurnPairs:
    """Adjacent turn pairs (turn exchanges) for one feature.

    ``prev[k]`` (turn-final value of the earlier turn) and ``cur[k]`` (turn-initial value of the
    next turn, by the other speaker); ``prev_turn[k]``, ``cur_turn[k]`` index into the sorted
    turns; ``t_s[k]`` is the start of the later turn. Only pairs with both values defined.
    """

    prev: np.ndarray
    cur: np.ndarray
    prev_turn: np.ndarray
    cur_turn: np.ndarray
    t_s: np.ndarray
    responder: list[str]


def _sorted_turns(turns: Iterable[Turn]) -> list[Turn]:
    turns = list(turns)
    if turns:
        _check_intervals([u.start_s for u in turns], [u.end_s for u in turns], "turn")
    spk = set(u.speaker for u in turns)
    if len(spk) > 2:
        raise ProsyncError(
            f"turn-level entrainment is dyadic but the turns name {len(spk)} speakers "
            f"({sorted(spk)}): pass the turns of one pair of speakers"
        )
    return sorted(turns, key=lambda u: (u.start_s, u.end_s))


def _fval(m: Mapping[str, float] | None, fallback: Mapping[str, float], feature: str) -> float:
    src = m if m is not None else fallback
    v = src.get(feature, np.nan)
    return float(v) if v is not None else float("nan")


def turn_pairs(turns: Iterable[Turn], feature: str, responder: str | None = None) -> TurnPairs:
    """The turn exchanges of a dyad: each turn paired with the partner's preceding turn.

    Turns are sorted by start. A pair is two consecutive turns by different speakers;
    consecutive turns by the same speaker are not an exchange. With ``responder``, only
    exchanges where that speaker takes the turn (the asymmetric variant).
    """
    ts = _sorted_turns(turns)
    prev, cur, pi, ci, t_s, who = [], [], [], [], [], []
    for k in range(1, len(ts)):
        p, c = ts[k - 1], ts[k]
        if p.speaker == c.speaker or (responder is not None and c.speaker != responder):
            continue
        vp = _fval(p.features_final, p.features, feature)
        vc = _fval(c.features_initial, c.features, feature)
        if np.isnan(vp) or np.isnan(vc):
            continue
        prev.append(vp)
        cur.append(vc)
        pi.append(k - 1)
        ci.append(k)
        t_s.append(c.start_s)
        who.append(c.speaker)
    return TurnPairs(np.asarray(prev, float), np.asarray(cur, float), np.asarray(pi, int),
                     np.asarray(ci, int), np.asarray(t_s, float), who)


def local_proximity(turns: Iterable[Turn], feature: str, *, responder: str | None = None,
                    n_nonadjacent: int | None = None, seed: int = 0,
                    min_pairs: int = 2) -> LocalProximity:
    """Turn-level proximity (Levitan & Hirschberg 2011).

    The paper: partners are *proximate* on a feature when adjacent turns are more similar than
    non-adjacent ones. For each turn (the responder's), the partner difference is
    ``|f(turn) - f(partner's preceding turn)|``; the non-partner difference is the mean of
    ``|f(turn) - f(q)|`` over the partner's turns ``q`` that are not adjacent to it (neither
    the preceding nor the following partner turn). The paper draws 10 random non-adjacent
    turns; the default here uses all of them (deterministic, lower variance), and
    ``n_nonadjacent=10`` draws 10 at random with ``seed`` as the paper does. Partner and
    non-partner differences are compared with a paired t-test.

    Partner turns ``q`` enter with their turn-final value (``features_final`` if given), the
    same side of an exchange as the actual preceding turn.

    Returns NaN with a reason when fewer than ``min_pairs`` exchanges have both a value and at
    least one non-adjacent partner turn, or when the paired differences have zero variance.
    """
    ts = _sorted_turns(turns)
    pairs = turn_pairs(ts, feature, responder)
    spk = np.array([u.speaker for u in ts])
    final = np.array([_fval(u.features_final, u.features, feature) for u in ts])
    idx = np.arange(len(ts))
    rng = np.random.default_rng(seed)
    part, nonp = [], []
    for vc, ip, ic in zip(pairs.cur, pairs.prev_turn, pairs.cur_turn, strict=True):
        ok = (spk == spk[ip]) & ~np.isnan(final)
        ok[ip] = False  # the adjacent preceding partner turn
        nxt = idx[ic + 1:][spk[ic + 1:] == spk[ip]]
        if nxt.size:
            ok[nxt[0]] = False  # the adjacent following partner turn
        cand = idx[ok]
        if cand.size == 0:
            continue
        if n_nonadjacent is not None and cand.size > n_nonadjacent:
            cand = rng.choice(cand, size=n_nonadjacent, replace=False)
        part.append(abs(vc - final[ip]))
        nonp.append(float(np.mean(np.abs(vc - final[cand]))))
    part_a = np.asarray(part, float)
    nonp_a = np.asarray(nonp, float)
    n = part_a.size
    mp = float(part_a.mean()) if n else float("nan")
    mn = float(nonp_a.mean()) if n else float("nan")
    if n < min_pairs:
        return LocalProximity(part_a, nonp_a, mp, mn, np.nan, np.nan, n,
                              f"{n} usable turn exchanges for {feature!r}, need {min_pairs} "
                              "(each with a defined value and a non-adjacent partner turn)")
    dd = nonp_a - part_a
    if np.all(dd == dd[0]):
        return LocalProximity(part_a, nonp_a, mp, mn, np.nan, np.nan, n,
                              f"partner minus non-partner differences for {feature!r} have zero "
                              "variance: the paired t-test is undefined")
    # paired t-test of non-partner minus partner differences (scipy.stats.ttest_rel)
    t = float(dd.mean() / (dd.std(ddof=1) / math.sqrt(n)))
    p = float(2.0 * stdtr(n - 1, -abs(t)))
    return LocalProximity(part_a, nonp_a, mp, mn, t, p, n)


def _pearson(x: np.ndarray, y: np.ndarray, what: str, min_n: int) -> LocalStat:
    n = x.size
    if n < min_n:
        return LocalStat(np.nan, np.nan, n, f"{what}: {n} turn exchanges, need {min_n}")
    if np.all(x == x[0]) or np.all(y == y[0]):
        return LocalStat(np.nan, np.nan, n, f"{what}: zero variance, correlation undefined")
    r = float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))
    if n <= 2:
        return LocalStat(r, np.nan, n, f"{what}: p undefined with {n} pairs")
    if abs(r) == 1.0:
        return LocalStat(r, 0.0, n)
    t = r * math.sqrt((n - 2) / (1.0 - r * r))
    return LocalStat(r, float(2.0 * stdtr(n - 2, -abs(t))), n)


def local_convergence(turns: Iterable[Turn], feature: str, *, responder: str | None = None,
                      against: str = "time", min_pairs: int = 3) -> LocalStat:
    """Turn-level convergence (Levitan & Hirschberg 2011).

    The paper: convergence is partners becoming more similar over the conversation, measured
    as the Pearson correlation between the adjacent (partner) differences
    ``|f(turn) - f(partner's preceding turn)|`` and time. A **negative** r means the
    differences shrink (convergence); positive means divergence. ``against="time"`` uses the
    start of the responding turn (s), ``"index"`` the exchange number 1..n.
    """
    if against not in ("time", "index"):
        raise ProsyncError(f"against={against!r} is invalid: use 'time' or 'index'")
    pairs = turn_pairs(turns, feature, responder)
    d = np.abs(pairs.cur - pairs.prev)
    x = pairs.t_s if against == "time" else np.arange(1.0, d.size + 1.0)
    return _pearson(d, x, f"convergence of {feature!r}", min_pairs)


def local_synchrony(turns: Iterable[Turn], feature: str, *, responder: str | None = None,
                    min_pairs: int = 3) -> LocalStat:
    """Turn-level synchrony (Levitan & Hirschberg 2011).

    The paper: synchrony is the relative form of entrainment, partners' values rising and
    falling together, measured as the Pearson correlation between the feature values of
    adjacent turns (the turn-final IPU of one turn and the turn-initial IPU of the partner's
    next turn). Positive r: synchrony; negative r: asynchrony (the therapy literature reports
    both, so the sign is reported as is).
    """
    pairs = turn_pairs(turns, feature, responder)
    return _pearson(pairs.prev, pairs.cur, f"synchrony of {feature!r}", min_pairs)


@dataclass(frozen=True)
class LHResult:
    """Levitan & Hirschberg 2011 turn-level measures for one feature."""

    feature: str
    proximity: LocalProximity
    convergence: LocalStat
    synchrony: LocalStat


def levitan_hirschberg(turns: Iterable[Turn], features: Sequence[str] = LH_FEATURES, *,
                       responder: str | None = None, n_nonadjacent: int | None = None,
                       seed: int = 0) -> dict[str, LHResult]:
    """Proximity, convergence and synchrony for each feature (default :data:`LH_FEATURES`)."""
    turns = _sorted_turns(turns)
    return {
        f: LHResult(
            f,
            local_proximity(turns, f, responder=responder, n_nonadjacent=n_nonadjacent,
                            seed=seed),
            local_convergence(turns, f, responder=responder),
            local_synchrony(turns, f, responder=responder),
        )
        for f in features
    }


def turns_from_ipus(ipus: Iterable[IPU]) -> list[Turn]:
    """Group consecutive IPUs of one speaker (sorted by start) into turns.

    A turn runs until the other speaker starts an IPU. ``features_initial`` and
    ``features_final`` are the first and last IPU's features (what Levitan & Hirschberg compare
    at an exchange); ``features`` is the duration-weighted mean of the IPU values per feature
    (NaN values skipped; a plain mean when every duration is 0).
    """
    us = sorted(ipus, key=lambda u: (u.start_s, u.end_s))
    if us:
        _check_intervals([u.start_s for u in us], [u.end_s for u in us], "IPU")
    groups: list[list[IPU]] = []
    for u in us:
        if groups and groups[-1][0].speaker == u.speaker:
            groups[-1].append(u)
        else:
            groups.append([u])
    out = []
    for g in groups:
        keys = list(dict.fromkeys(k for u in g for k in u.features))
        feats = {}
        for k in keys:
            v = np.array([u.features.get(k, np.nan) for u in g], float)
            w = np.array([u.duration_s for u in g], float)
            ok = ~np.isnan(v)
            if not ok.any():
                feats[k] = float("nan")
            elif w[ok].sum() > 0:
                feats[k] = float(np.sum(v[ok] * w[ok]) / w[ok].sum())
            else:
                feats[k] = float(np.mean(v[ok]))
        out.append(Turn(g[0].speaker, g[0].start_s, max(u.end_s for u in g), feats,
                        dict(g[0].features), dict(g[-1].features)))
    return out
