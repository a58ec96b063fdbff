"""Logging of the ``prosync`` command: the standard :mod:`logging` module, one handler on the
``prosync`` logger (``-v`` for INFO, ``-vv`` for DEBUG, ``--log-level``); a library user
configures logging as usual and sees the same records."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: int | str) -> None:
    """Send records of ``prosync.*`` at ``level`` and above to stderr (idempotent); at DEBUG
    the WebSocket library's own records too."""
    lvl = logging.getLevelName(level.upper()) if isinstance(level, str) else int(level)
    for name in ("prosync", "websockets"):
        lg = logging.getLogger(name)
        for h in [h for h in lg.handlers if getattr(h, "_prosync", False)]:
            lg.removeHandler(h)
        if name == "websockets" and lvl > logging.DEBUG:
            continue
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter(FORMAT))
        h._prosync = True  # type: ignore[attr-defined]
        lg.addHandler(h)
        lg.setLevel(lvl)
