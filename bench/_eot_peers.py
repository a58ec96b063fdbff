"""The peers of bench_end_of_turn.py, run with Pipecat's own code and models.

* Silero VAD endpointing: Pipecat's ``SileroVADAnalyzer`` (its ONNX model, its VADAnalyzer state
  machine with ``stop_secs``); the turn ends when the analyzer goes back to QUIET.
* Smart Turn v3: Pipecat's ``LocalSmartTurnAnalyzerV3`` (the bundled smart-turn-v3.x ONNX model)
  driven the way ``TurnAnalyzerUserTurnStopStrategy`` drives it (``wait_for_transcript=False``):
  every input frame goes to ``append_audio(audio, vad_user_speaking)`` (COMPLETE there is its
  ``stop_secs`` silence timeout); at each VAD stop (Silero, ``stop_secs=0.2``, Pipecat's default)
  the model judges the segment; COMPLETE ends the turn. The analyzer timestamps its buffer with
  ``time.monotonic()``; here that clock is the stream time, so its pre-speech window and buffer
  trimming behave as in a live call. Inference time is not added to the latencies (in favour of
  the peer).

Frames of 20 ms are fed in order, as Pipecat's input transport does (VAD first, then the frame).
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

FRAME = 320  # 20 ms at 16 kHz


def _silence_loguru():
    from loguru import logger

    logger.remove()


class _Replay:
    """Pipecat's VADAnalyzer state machine (and its volume gate) fed with the confidences a real
    Silero run produced for the same windows (the model runs once per stream)."""

    def __new__(cls, confidences, stop_secs):
        from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams

        class Replay(VADAnalyzer):
            def num_frames_required(self):
                return 512

            def voice_confidence(self, buffer):
                self._i += 1
                return confidences[self._i - 1]

        v = Replay(sample_rate=16000, params=VADParams(stop_secs=float(stop_secs)))
        v._i = 0
        v.set_sample_rate(16000)
        return v


def _vad_fires(x, vad, clock=None, on_stop=None, on_start=None, each=None):
    """Feed 20 ms frames to a Pipecat VAD analyzer; fire times at each return to QUIET."""
    from pipecat.audio.vad.vad_analyzer import VADState

    fires = []
    prev = VADState.QUIET
    cpu = 0.0
    for i in range(0, x.shape[0] - FRAME + 1, FRAME):
        buf = x[i:i + FRAME].tobytes()
        t = (i + FRAME) / 16000
        if clock is not None:
            clock[0] = t
        c0 = time.perf_counter()
        s = vad._run_analyzer(buf)
        cpu += time.perf_counter() - c0
        if s == VADState.SPEAKING and prev in (VADState.QUIET, VADState.STARTING):
            if on_start is not None:
                on_start()
        elif s == VADState.QUIET and prev in (VADState.SPEAKING, VADState.STOPPING):
            fires.append(t)
            if on_stop is not None:
                on_stop(t)
        prev = s
        if each is not None:
            each(buf, t)
    return fires, cpu


def silero(x: np.ndarray, stop_secs: float) -> tuple[list, float, list, list]:
    """Pipecat's SileroVADAnalyzer with ``stop_secs`` over int16 ``x`` (16 kHz): the fire times,
    the seconds of compute, the model's confidence for every 512-sample window and the times
    the VAD confirmed a speech start."""
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.audio.vad.vad_analyzer import VADParams

    _silence_loguru()
    v = SileroVADAnalyzer(sample_rate=16000, params=VADParams(stop_secs=float(stop_secs)))
    v.set_sample_rate(16000)
    conf: list[float] = []
    real = v.voice_confidence

    def record(buf):
        c = real(buf)
        conf.append(float(np.ravel(c)[0]))
        return c

    v.voice_confidence = record
    starts: list[float] = []
    t = [0.0]

    def each(buf, now):
        t[0] = now

    fires, cpu = _vad_fires(x, v, on_start=lambda: starts.append(t[0] + FRAME / 16000),
                            each=each)
    return fires, cpu, conf, starts


def silero_replay(x: np.ndarray, confidences, stop_secs: float) -> list:
    """Fire times of Pipecat's VAD state machine with ``stop_secs`` on recorded confidences
    (the model's state resets, which Pipecat times by the VAD state, follow the recorded run)."""
    return _vad_fires(x, _Replay(confidences, stop_secs))[0]


def smart_turn(x: np.ndarray) -> tuple[list, list, float, float, int, list]:
    """Pipecat's Smart Turn v3 with its Silero VAD (stop 0.2 s) over int16 ``x`` (16 kHz).

    Returns the fire times, the VAD's own stop times (= Silero with stop 0.2 s), the seconds of
    compute of the VAD and of the Smart Turn model, the number of model inferences and the VAD
    model's confidences.
    """
    import pipecat.audio.turn.smart_turn.base_smart_turn as bst
    from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
    from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.audio.vad.vad_analyzer import VADParams

    _silence_loguru()
    clock = [0.0]
    bst.time = SimpleNamespace(monotonic=lambda: clock[0], perf_counter=time.perf_counter,
                               time=time.time)
    vad = SileroVADAnalyzer(sample_rate=16000, params=VADParams())
    vad.set_sample_rate(16000)
    conf: list[float] = []
    real = vad.voice_confidence

    def record(buf):
        c = real(buf)
        conf.append(float(np.ravel(c)[0]))
        return c

    vad.voice_confidence = record
    st = LocalSmartTurnAnalyzerV3(cpu_count=1)
    st.set_sample_rate(16000)
    fires: list[float] = []
    state = {"speaking": False, "cpu": 0.0, "n": 0}

    def on_start():
        st.update_vad_start_secs(vad.params.start_secs)
        state["speaking"] = True

    def on_stop(t):
        state["speaking"] = False
        c0 = time.perf_counter()
        res, _ = st._process_speech_segment(st._audio_buffer)
        state["cpu"] += time.perf_counter() - c0
        state["n"] += 1
        if res == EndOfTurnState.COMPLETE:
            st._clear(res)
            fires.append(t)

    def each(buf, t):
        if st.append_audio(buf, state["speaking"]) == EndOfTurnState.COMPLETE:
            fires.append(t)

    vad_fires, cpu_vad = _vad_fires(x, vad, clock, on_stop, on_start, each)
    return sorted(fires), vad_fires, cpu_vad, state["cpu"], state["n"], conf
