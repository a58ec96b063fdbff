"""Pipecat end-of-turn analyzer backed by prosync (``pip install prosync[pipecat]``).

:class:`ProsyncTurnAnalyzer` implements Pipecat's ``BaseTurnAnalyzer``, the seam Smart Turn uses,
so it replaces ``LocalSmartTurnAnalyzerV3`` in a ``TurnAnalyzerUserTurnStopStrategy``::

    from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
    analyzer = ProsyncTurnAnalyzer()
    stop = TurnAnalyzerUserTurnStopStrategy(turn_analyzer=analyzer, wait_for_transcript=False)

It is a streaming analyzer (like Pipecat's Krisp one): every user audio frame the strategy hands
to :meth:`append_audio` is pushed into a :class:`prosync.agent.AgentSession`, and the frame on
which prosync's ``turn_end`` fires (``turn_end_prob`` reached ``Config.end_of_turn.threshold``
in the user's silence, see :mod:`prosync.engine.endofturn`) returns ``COMPLETE``; a pause the
probability stays under returns ``INCOMPLETE`` however long the VAD says the user is quiet
(up to ``max_silence_s``, a safety net like Smart Turn's ``stop_secs``).
:meth:`analyze_end_of_turn` (called at each VAD stop) answers from the same state without any
model inference. The analyzer's :attr:`agent_session` also takes the bot's own audio
(``push_agent``): :class:`prosync.pipecat_reply.ProsyncReplyGate` pushes what it lets through,
so the pacing advice (rate, loudness) sees both voices, and the end-of-turn calibration tells
the user's pauses from the hand-overs the bot took. Without the bot's audio every silence
looks like a pause of the user, and the wait grows towards the user's longest silences.
"""

from __future__ import annotations

import numpy as np
from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer, BaseTurnParams, EndOfTurnState
from pipecat.metrics.metrics import MetricsData

from prosync.agent import AgentSession
from prosync.engine.config import Config

__all__ = ["ProsyncTurnAnalyzer", "ProsyncTurnParams"]


class ProsyncTurnParams(BaseTurnParams):
    """``max_silence_s``: the turn ends after this much silence whatever the probability."""

    max_silence_s: float = 3.0


class ProsyncTurnAnalyzer(BaseTurnAnalyzer):
    """End of the user's turn from prosync's causal ``turn_end_prob`` (see the module doc)."""

    def __init__(self, *, sample_rate: int | None = None, config: Config | None = None,
                 params: ProsyncTurnParams | None = None,
                 agent_session: AgentSession | None = None):
        super().__init__(sample_rate=sample_rate)
        self._params = params or ProsyncTurnParams()
        self._config = config
        self.agent_session = agent_session
        self._speech_triggered = False
        self._complete_sent = False

    # --------------------------------------------------------------- Pipecat API
    def set_sample_rate(self, sample_rate: int):
        super().set_sample_rate(sample_rate)
        if self.agent_session is None:
            self.agent_session = AgentSession(self._sample_rate, ("user", "agent"),
                                              config=self._config)

    @property
    def speech_triggered(self) -> bool:
        return self._speech_triggered

    @property
    def params(self) -> ProsyncTurnParams:
        return self._params

    def append_audio(self, buffer: bytes, is_speech: bool) -> EndOfTurnState:
        """Push the user's frame; COMPLETE on the frame where prosync's ``turn_end`` fires."""
        if self.agent_session is None:
            self.set_sample_rate(self._init_sample_rate or 16000)
        sess = self.agent_session
        sess.push_user(np.frombuffer(buffer, dtype="<i2"))
        if is_speech or sess.user_speaking:
            self._speech_triggered = True
            self._complete_sent = False
            return EndOfTurnState.INCOMPLETE
        if self._speech_triggered and not self._complete_sent and self._ended():
            self._complete_sent = True
            self._speech_triggered = False
            return EndOfTurnState.COMPLETE
        return EndOfTurnState.INCOMPLETE

    async def analyze_end_of_turn(self) -> tuple[EndOfTurnState, MetricsData | None]:
        """At a VAD stop: COMPLETE when ``turn_end`` already fired in this silence."""
        if self.agent_session is not None and self._ended():
            self._speech_triggered = False
            self._complete_sent = True
            return EndOfTurnState.COMPLETE, None
        return EndOfTurnState.INCOMPLETE, None

    def clear(self):
        self._speech_triggered = False

    # ------------------------------------------------------------------ helpers
    def _ended(self) -> bool:
        state = self.agent_session.session.end_of_turn_state()
        if state is None:
            return False
        fired, silence_s = state
        return fired or silence_s >= self._params.max_silence_s

    def turn_end_prob(self) -> float:
        """The user's latest end-of-turn probability (NaN while they speak)."""
        return self.agent_session.turn_end_prob() if self.agent_session else float("nan")
