"""Subcommands of ``prosync``: every module here with a ``register(subparsers)`` function adds
its commands (each sets ``func``: ``func(args) -> exit code``). Heavy imports stay inside the
handlers, so ``prosync --help`` is fast and ``sounddevice`` loads only on the live path."""

from __future__ import annotations

import importlib
import pkgutil


def register_all(sub) -> None:
    for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if m.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{m.name}")
        if hasattr(mod, "register"):
            mod.register(sub)
