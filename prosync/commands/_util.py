"""Small helpers shared by the command modules."""

from __future__ import annotations

from prosync.engine.errors import ProsyncError


def csv_list(v, kind=str):
    """``"a,b"`` -> ``["a", "b"]`` (``None`` stays ``None``); a clear error if unparsable."""
    if v is None:
        return None
    try:
        return [kind(x.strip()) for x in v.split(",") if x.strip()]
    except ValueError:
        raise ProsyncError(f"cannot parse {v!r}: give comma-separated values, e.g. 1,2") from None


def add_preset(parser) -> None:
    """The ``--preset`` option (named synchrony settings, :data:`SYNC_PRESETS`)."""
    from prosync.engine.config import DEFAULT_PRESET, SYNC_PRESETS

    told = "; ".join(f"{n}: {c.window_s:g} s windows, ±{c.lag_s:g} s lags, {c.step_s:g} s step"
                     for n, c in SYNC_PRESETS.items())
    parser.add_argument("--preset", choices=list(SYNC_PRESETS), default=DEFAULT_PRESET,
                        help=f"synchrony settings ({told}; default {DEFAULT_PRESET})")
