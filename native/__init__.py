"""Numba kernels: arrays and scalars in, caller-owned ``out`` arrays filled.

No validation, no I/O, no allocation inside the per-hop loops. Every kernel is
compiled with the flags in :mod:`prosync.native._jit` (``cache=True``).
"""
