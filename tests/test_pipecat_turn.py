"""prosync's Pipecat turn analyzer (prosync/pipecat_turn.py), driven the way Pipecat's
TurnAnalyzerUserTurnStopStrategy drives a streaming analyzer: 20 ms frames to append_audio."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.audio import SR, harmonic

pytest.importorskip("pipecat")

from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer, EndOfTurnState  # noqa: E402

from prosync.pipecat_turn import ProsyncTurnAnalyzer, ProsyncTurnParams  # noqa: E402

FRAME = 320


def _user(ipus, dur):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 3e-4, int(dur * SR)).astype(np.float32)
    for a, b in ipus:
        seg = harmonic(210.0, b - a)
        tt = np.arange(seg.size) / SR
        x[int(a * SR):int(a * SR) + seg.size] += seg * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * tt))
    return (np.clip(x, -1, 1) * 32767).astype(np.int16)


def _drive(an, x, speech):
    """Frames in order; ``speech(t)`` plays the VAD's is_speech. Returns COMPLETE frame ends."""
    done = []
    for i in range(0, x.size - FRAME + 1, FRAME):
        t = (i + FRAME) / SR
        if an.append_audio(x[i:i + FRAME].tobytes(), speech(t)) == EndOfTurnState.COMPLETE:
            done.append(t)
    return done


def test_is_a_pipecat_turn_analyzer_that_fires_once_at_prosyncs_turn_end():
    an = ProsyncTurnAnalyzer(sample_rate=SR)
    an.set_sample_rate(SR)
    assert isinstance(an, BaseTurnAnalyzer)
    # one turn with a 250 ms pause inside it, then the user stays silent
    ipus = [(0.5, 2.0), (2.25, 3.5)]
    x = _user(ipus, 7.0)
    done = _drive(an, x, lambda t: any(a <= t < b for a, b in ipus))
    te = an.agent_session.last_turn_end
    assert te is not None and te.speech_end_s == pytest.approx(3.5, abs=0.12)
    # COMPLETE exactly once, on the 20 ms frame where the engine's turn_end became final
    (t_done,) = done
    lag = an.agent_session.lookahead_s + 0.02 + 0.01
    assert te.t_s < t_done <= te.t_s + lag
    assert t_done > 3.5 + 0.25        # never inside the held 250 ms pause
    state, _ = asyncio.run(an.analyze_end_of_turn())
    assert state == EndOfTurnState.INCOMPLETE or an.speech_triggered is False


def test_the_safety_net_ends_a_turn_after_max_silence():
    from prosync.engine.config import Config, EndOfTurnConfig

    cfg = Config(end_of_turn=EndOfTurnConfig(threshold=0.999999))
    an = ProsyncTurnAnalyzer(sample_rate=SR, config=cfg,
                             params=ProsyncTurnParams(max_silence_s=1.0))
    an.set_sample_rate(SR)
    x = _user([(0.5, 2.0)], 4.5)
    done = _drive(an, x, lambda t: 0.5 <= t < 2.0)
    assert len(done) == 1 and 2.9 < done[0] < 3.2
