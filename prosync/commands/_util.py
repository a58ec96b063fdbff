"""Small helpers shared by the command modules."""

from __future__ import annotations

from prosync.engine.errors import ProsyncError


def csv_list(v, kind=str, flag: str = ""):
    """``"a,b"`` -> ``["a", "b"]`` (``None`` stays ``None``); a clear error, naming ``flag``, if
    unparsable."""
    if v is None:
        return None
    try:
        return [kind(x.strip()) for x in v.split(",") if x.strip()]
    except ValueError:
        what = "whole numbers" if kind is int else "values"
        raise ProsyncError(f"{flag + ' ' if flag else ''}{v!r} cannot be parsed: give "
                           f"comma-separated {what}, e.g. 1,2") from None


def add_preset(parser, default: str | None = "", default_help: str | None = None) -> None:
    """The ``--preset`` option (named synchrony settings, :data:`SYNC_PRESETS`). ``default``:
    the engine's default preset when empty; None leaves the choice to someone else (the server
    for ``prosync stream``: ``default_help`` says whom)."""
    from prosync.engine.config import DEFAULT_PRESET, SYNC_PRESETS

    told = "; ".join(f"{n}: {c.window_s:g} s windows, ±{c.lag_s:g} s lags, {c.step_s:g} s step"
                     for n, c in SYNC_PRESETS.items())
    if default == "":
        default = DEFAULT_PRESET
    parser.add_argument("--preset", choices=list(SYNC_PRESETS), default=default,
                        help=f"synchrony settings ({told}; default {default_help or default})")
