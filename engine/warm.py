"""Kernel warm-up: load every numba kernel once per process, before the first real push.

The kernels are compiled with ``cache=True``, but loading a cached kernel still costs time on its
first call in a process (0.6-0.7 s in all for the engine's kernels), which would stall the first
push of a live session or an agent's event loop. :func:`warm` runs a short synthetic dialogue
through a private :class:`~prosync.engine.session.Session` whose synchrony windows are short
enough that the window, surrogate and pacing kernels run too, with the same argument types as
any real session (so the same compiled specialisations are loaded). Constructing a ``Session``
calls it (``Session(warm=False)`` does not); after the first call it returns at once.
"""

from __future__ import annotations

import threading
import time

import numpy as np

_lock = threading.Lock()
_done = False


def warm(session_cls) -> float:
    """Load the kernels (once per process) by running ``session_cls`` (the
    :class:`~prosync.engine.session.Session` class, passed in so that this module does not
    import the session back); returns the seconds it took (0.0 when already warm)."""
    global _done
    if _done:
        return 0.0
    with _lock:
        if _done:
            return 0.0
        t0 = time.perf_counter()
        if not _jit_disabled():
            _run(session_cls)
        _done = True
        return time.perf_counter() - t0


def is_warm() -> bool:
    return _done


def _jit_disabled() -> bool:
    """Under ``NUMBA_DISABLE_JIT=1`` (coverage runs) there is nothing to load."""
    from ..native._jit import jit_disabled

    return jit_disabled()


def _dialogue(rate: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Two alternating voices (a 4 Hz syllable rhythm on a gliding tone) with pauses and an
    overlap, so every branch of the tracker runs: voicing, nuclei, IPUs, gaps, overlaps."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    rng = np.random.default_rng(0)
    out = []
    for k, (f0, phase) in enumerate(((140.0, 0.0), (210.0, 0.6))):
        glide = f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t + phase))
        voice = np.sin(2 * np.pi * np.cumsum(glide) / rate) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
        on = (np.floor(t / 0.6 + 0.5 * k) % 2 == 0) | ((t > 1.1) & (t < 1.3))
        x = 0.2 * voice * on + rng.normal(0, 2e-3, n)
        out.append(x.astype(np.float32))
    return out[0], out[1]


def _run(session_cls) -> None:
    from .config import Config, SyncConfig
    from .summary import SessionSummary

    rate = 16000
    # windows of 0.5 s every 0.2 s with 0.1 s lags: a window completes within the first second
    # and the window surrogates, which wait for MIN_HISTORY_CHUNKS chunks of history (1.8 s
    # here), refresh before the dialogue ends, so the synchrony kernels load here and not
    # mid-session (tests/test_loop.py checks that a real session loads no kernel after this)
    cfg = Config(sync=SyncConfig(window_s=0.5, lag_s=0.1, step_s=0.2, surrogates=39,
                                 history_s=3.0))
    a, b = _dialogue(rate, 2.5)
    for two_mics in (True, False):
        stats = SessionSummary(("a", "b"))
        s = session_cls(("a", "b"), sample_rate=rate, config=cfg, two_mics=two_mics, warm=False)
        step = rate // 50
        for k in range(0, a.shape[0], step):
            stats.update(s.push(0, a[k:k + step]))
            stats.update(s.push(1, b[k:k + step]))
        stats.update(s.close())
    one = session_cls(("a",), sample_rate=rate, warm=False)
    one.push(0, (a[: rate // 2] * 32767).astype(np.int16))
    one.close()
    stats.summary(a.shape[0] / rate, s)
    # the polyphase resampler of a 44.1 / 48 kHz microphone (the same kernel at every rate)
    from .resample import Polyphase

    rs = Polyphase(48000)
    rs.resample_chunk(np.zeros(480, np.float32))
    rs.resample_chunk(np.zeros(0, np.float32), last=True)
    # the session test's kernels (both kinds of surrogates) on a series long enough for them
    from .session_sync import session_test

    n = int(cfg.sync.rate_hz * 100)  # past the test's shortest session (96 s)
    x = np.sin(np.arange(n) * 0.3)
    gaps = np.where(np.arange(n) % 20 < 12, x, np.nan)
    session_test(x, x[::-1].copy(), cfg.sync, n_surrogates=19)
    session_test(x, gaps, cfg.sync, n_surrogates=19, raw2=gaps, raw1=gaps)
