"""prosync in a real Pipecat pipeline: PipelineRunner, a file-fed input transport, Pipecat's
Silero VAD and user-turn processor with prosync's turn analyzer in its
TurnAnalyzerUserTurnStopStrategy, espeak-ng behind Pipecat's TTS service interface, and
prosync's reply gate and TTS pacer."""

from __future__ import annotations

import asyncio
import shutil

import numpy as np
import pytest

pytest.importorskip("pipecat")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)", allow_module_level=True)

from pipecat.audio.vad.silero import SileroVADAnalyzer  # noqa: E402
from pipecat.frames.frames import EndFrame  # noqa: E402
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.runner import PipelineRunner  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.audio.vad_processor import VADProcessor  # noqa: E402
from pipecat.turns.user_start.vad_user_turn_start_strategy import (  # noqa: E402
    VADUserTurnStartStrategy,
)
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy  # noqa: E402
from pipecat.turns.user_turn_processor import UserTurnProcessor  # noqa: E402
from pipecat.turns.user_turn_strategies import UserTurnStrategies  # noqa: E402

from prosync.pipecat_reply import ProsyncReplyGate, ProsyncTTSPacer  # noqa: E402
from prosync.pipecat_turn import ProsyncTurnAnalyzer  # noqa: E402
from tests.pipecat_parts import (  # noqa: E402
    SR,
    EspeakTTSService,
    FileInputTransport,
    Recorder,
    Responder,
    espeak,
)

PAUSE_S = 0.5


def _user_audio():
    """One turn with a 0.5 s pause inside it, then 3 s of silence; returns audio and the
    pause and end of speech (s, from the samples)."""
    a = espeak("Well, I was thinking about the weekend")
    b = espeak("and maybe we could go to the lake on Saturday")
    lead = np.zeros(int(0.5 * SR), np.int16)
    pause = np.zeros(int(PAUSE_S * SR), np.int16)
    x = np.concatenate([lead, a, pause, b, np.zeros(3 * SR, np.int16)])
    rng = np.random.default_rng(0)
    x = (x + rng.normal(0, 20, x.size)).astype(np.int16)  # a quiet room, not digital silence

    def last_loud(y):
        return np.flatnonzero(np.abs(y) > 300)[-1] / SR

    pause_start = (lead.size + last_loud(a) * SR) / SR
    end = (lead.size + a.size + pause.size) / SR + last_loud(b)
    return x, (pause_start, (lead.size + a.size + pause.size) / SR), end


async def _run(x, config=None):
    analyzer = ProsyncTurnAnalyzer(sample_rate=SR, config=config)
    tts = EspeakTTSService()
    source = FileInputTransport(x)
    stop = TurnAnalyzerUserTurnStopStrategy(turn_analyzer=analyzer, wait_for_transcript=False)
    turns = UserTurnProcessor(user_turn_strategies=UserTurnStrategies(
        start=[VADUserTurnStartStrategy()], stop=[stop]))
    pacer = ProsyncTTSPacer(analyzer, tts)
    gate = ProsyncReplyGate(analyzer)
    rec = Recorder(analyzer)
    pipeline = Pipeline([source, VADProcessor(vad_analyzer=SileroVADAnalyzer()), turns,
                         Responder(["Sure, that sounds lovely."]), pacer, tts, gate, rec])
    task = PipelineWorker(pipeline, params=PipelineParams(audio_in_sample_rate=SR,
                                                          audio_out_sample_rate=SR),
                          idle_timeout_secs=None)

    async def stop_at_end():
        await source.done.wait()
        await asyncio.sleep(0.3)
        await task.queue_frame(EndFrame())

    runner = PipelineRunner(handle_sigint=False)
    await asyncio.gather(runner.run(task), stop_at_end())
    return analyzer, gate, rec, pacer


def test_the_bot_answers_after_the_turn_end_by_the_advised_delay():
    from prosync.engine.config import Config, PacingConfig

    # an advised delay longer than the end-of-turn latency, so the gate has something to hold
    cfg = Config(pacing=PacingConfig(min_reply_delay_ms=2300.0, max_reply_delay_ms=2500.0,
                                     default_reply_delay_ms=2300.0))
    x, (p0, p1), end = _user_audio()
    analyzer, gate, rec, pacer = asyncio.run(_run(x, cfg))
    sess = analyzer.agent_session
    te = sess.last_turn_end
    assert te is not None and abs(te.speech_end_s - end) < 0.15, (te, end)
    assert rec.audio_t, "the bot never spoke"
    first = rec.audio_t[0]
    # never during the pause the analyzer held, nor before the end of the user's speech
    assert not any(p0 <= t <= p1 + 0.1 for t in rec.audio_t)
    assert te.latency_s > PAUSE_S
    # the reply was ready before the advice said go, held, and released when the user's
    # silence reached the advised delay: the first bot audio leaves the end of speech by it
    (arrived, released, silence), = gate.releases
    delay_s = sess.pacing().reply_delay_ms / 1000
    assert delay_s >= 2.3 and arrived < released
    assert delay_s - 1e-6 <= silence <= delay_s + 0.04          # polled every 10 ms
    assert delay_s - 1e-6 <= first - te.speech_end_s
    # downstream of the gate the frames ride the event loop with the real-time input (on a
    # busy machine some tens of ms)
    assert first - released <= 0.15


def test_the_pacer_sets_tts_speed_and_volume_from_settled_advice():
    from pipecat.frames.frames import TTSSpeakFrame, TTSUpdateSettingsFrame, UserStoppedSpeakingFrame
    from pipecat.tests.utils import run_test

    from tests.audio import dialogue

    a, b, _ = dialogue()
    analyzer = ProsyncTurnAnalyzer(sample_rate=SR)
    analyzer.set_sample_rate(SR)
    sess = analyzer.agent_session
    for _ in range(3):  # 36 s of the dialogue: the user's and agent's baselines settle
        sess.push_user(a)
        sess.push_agent(b * 0.25)  # the agent 12 dB quieter than the user
    adv = sess.pacing()
    assert adv.conf_rate >= 0.5 and adv.conf_loudness >= 0.5
    tts = EspeakTTSService()
    pacer = ProsyncTTSPacer(analyzer, tts)
    down, _ = asyncio.run(run_test(pacer, frames_to_send=[
        UserStoppedSpeakingFrame(), TTSSpeakFrame("Right.")]))
    kinds = [type(f) for f in down]
    i = kinds.index(TTSUpdateSettingsFrame)
    assert i < kinds.index(TTSSpeakFrame)     # the settings reach the TTS before the text
    d = down[i].delta
    assert d.speed > 0 and d.volume == pytest.approx(10 ** (adv.loudness_offset_db / 20), abs=1e-3)
    assert adv.loudness_offset_db > 0          # the agent was 12 dB quieter: speak up
