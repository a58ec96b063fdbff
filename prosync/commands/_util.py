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
