"""The embedded API for voice agents (prosync.agent) and the Pipecat adapter."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from prosync.agent import AgentSession, merge_updates
from prosync.engine.errors import ProsyncError
from prosync.engine.session import Session
from tests.audio import dialogue

SR = 16000


def _frames(updates, spk):
    chunks = [u.frames[spk] for u in updates if spk in u.frames and len(u.frames[spk])]
    return np.concatenate(chunks)


def _reference(a, b, block=640):
    s = Session(("user", "agent"), SR)
    ups = []
    for i in range(0, len(a), block):
        ups.append(s.push(0, a[i:i + block]))
        ups.append(s.push(1, b[i:i + block]))
    ups.append(s.close())
    return ups


@pytest.fixture(scope="module")
def audio():
    a, b, ipus = dialogue()
    return a[:8 * SR], b[:8 * SR], ipus


def test_same_results_as_session_when_both_streams_are_pushed(audio):
    a, b, _ = audio
    ref = _reference(a, b)
    ag = AgentSession(SR, pad_agent=False)
    got = []
    for i in range(0, len(a), 999):
        got.append(ag.push_user(a[i:i + 999]))
        got.append(ag.push_agent(b[i:i + 999]))
    got.append(ag.close())
    for spk in ("user", "agent"):
        e, g = _frames(ref, spk), _frames(got, spk)
        for col in ("t_s", "f0_hz", "energy_db", "speech", "rate_sps"):
            np.testing.assert_array_equal(g[col], e[col])
    assert [e for u in got for e in u.events] == [e for u in ref for e in u.events] or \
        sorted(map(repr, (e for u in got for e in u.events))) == sorted(
            map(repr, (e for u in ref for e in u.events)))


def test_pad_agent_keeps_frames_flowing_with_user_audio_only(audio):
    a, _, _ = audio
    ag = AgentSession(SR)  # the agent never speaks
    n = 0
    for i in range(0, 2 * SR, 320):
        u = ag.push_user(a[i:i + 320])
        n += len(u.frames.get("user", ()))
    # frames are final up to the look-ahead: nothing waits for the agent's stream
    assert n >= 200 - int(ag.lookahead_s / 0.01) - 2
    assert ag.time_s == pytest.approx(2.0)
    assert ag.pacing() is not None


def test_pad_agent_places_agent_audio_at_the_users_time(audio):
    a, b, _ = audio
    ag = AgentSession(SR)
    ups = []
    ups.append(ag.push_user(np.zeros(SR, np.float32)))       # 1 s of user silence
    ups.append(ag.push_agent(b[3 * SR:4 * SR]))               # agent speaks from t = 1 s
    ups.append(ag.push_user(np.zeros(SR, np.float32)))
    ups.append(ag.close())
    g = _frames(ups, "agent")
    sp = g["t_s"][g["speech"]]
    assert len(g) == 200 and sp.size > 20
    assert 1.0 <= sp.min() < 1.2 and sp.max() < 2.1


def test_int16_and_float_agree_and_bad_input_is_a_user_error():
    x = (np.sin(np.arange(SR) * 0.05) * 8000).astype(np.int16)
    s1, s2 = AgentSession(SR), AgentSession(SR)
    u1, u2 = s1.push_user(x), s2.push_user(x.astype(np.float32) / 32768)
    np.testing.assert_array_equal(u1.frames["user"]["energy_db"], u2.frames["user"]["energy_db"])
    with pytest.raises(ProsyncError, match="1-D"):
        s1.push_user(np.zeros((2, 10)))
    with pytest.raises(ProsyncError, match="NaN"):
        s1.push_agent(np.array([np.nan], np.float32))
    with pytest.raises(ProsyncError, match="unknown speaker"):
        s1.push("bob", x)
    with pytest.raises(ProsyncError, match="two speakers"):
        AgentSession(SR, ("solo",))
    s1.close()
    with pytest.raises(ProsyncError, match="after close"):
        s1.push_user(x)


def test_callbacks_and_latest_state(audio):
    a, b, _ = audio
    seen = []
    ag = AgentSession(SR, pad_agent=False, on_update=seen.append)
    returned = []
    for i in range(0, len(a), 1600):
        returned.append(ag.push_user(a[i:i + 1600]))
        returned.append(ag.push_agent(b[i:i + 1600]))
    # every non-empty update went to the subscriber, in order
    np.testing.assert_array_equal(_frames(seen, "user")["t_s"], _frames(returned, "user")["t_s"])
    lat = ag.latest()
    assert set(lat["frames"]) == {"user", "agent"}
    assert lat["t_s"] == pytest.approx(_frames(returned, "user")["t_s"][-1])
    assert lat["pacing"] is ag.pacing() and lat["pacing"] is not None
    assert any(e.kind == "ipu" for e in lat["events"])
    assert set(lat["synchrony"]) <= {"f0", "energy", "rate", "vad"}
    # user ipus end at 2.5 and 6.0-8.0 s: at 8 s minus look-ahead the user is still speaking
    assert ag.user_speaking is True and ag.silence_s("user") == 0.0
    ag.push_user(np.zeros(SR, np.float32))
    ag.push_agent(np.zeros(SR, np.float32))
    assert ag.user_speaking is False
    assert 0.7 < ag.silence_s("user") <= 1.0 and 0.7 < ag.silence_s("agent") <= 1.0
    unsub = ag.subscribe(lambda u: seen.append("x"))
    unsub()
    ag.push_user(np.zeros(160, np.float32))
    assert "x" not in seen
    ag.close()
    s = ag.summary()
    assert s["speakers"]["user"]["ipus"] == 2 and s["speakers"]["agent"]["ipus"] >= 1
    assert s["warnings"] == []


def test_summary_equals_score_summary(audio, tmp_path):
    import soundfile as sf

    from prosync.score import score

    a, b, _ = audio
    p = tmp_path / "d.wav"
    sf.write(p, np.stack([a, b], 1), SR, subtype="FLOAT")
    res = score([p], tmp_path / "o", speakers=["user", "agent"])
    ag = AgentSession(SR, pad_agent=False)
    for i in range(0, len(a), 480):
        ag.push_user(a[i:i + 480])
        ag.push_agent(b[i:i + 480])
    ag.close()
    s = ag.summary()
    for key in ("speakers", "turn_events", "fto_s", "entrainment", "duration_s"):
        assert s[key] == res.summary[key], key


def test_async_iterator_receives_every_update_then_ends(audio):
    a, b, _ = audio

    async def go():
        ag = AgentSession(SR)
        stream = ag.updates()
        got = []

        async def consume():
            async for u in stream:
                got.append(u)

        task = asyncio.create_task(consume())

        def produce():  # a producer thread, as an audio callback would be
            for i in range(0, len(a), 320):
                ag.push_user(a[i:i + 320])
            ag.close()

        await asyncio.to_thread(produce)
        await asyncio.wait_for(task, 10)
        return got, stream.dropped

    got, dropped = asyncio.run(go())
    assert dropped == 0
    assert len(_frames(got, "user")) == len(a) // 160


def test_async_iterator_is_bounded_and_counts_drops(audio):
    a, _, _ = audio

    async def go():
        ag = AgentSession(SR)
        stream = ag.updates(maxsize=3)
        for i in range(0, SR, 320):  # nobody reads meanwhile
            ag.push_user(a[i:i + 320])
        ag.close()
        await asyncio.sleep(0)
        got = [u async for u in stream]
        return got, stream.dropped

    got, dropped = asyncio.run(go())
    assert len(got) == 3 and dropped > 10


def test_threads_one_producer_per_speaker(audio):
    """One thread per speaker pushing concurrently gives the single-thread results."""
    a, b, _ = audio
    ref = _reference(a, b)
    seen = []
    lock = threading.Lock()

    def cb(u):
        with lock:
            seen.append(u)

    ag = AgentSession(SR, pad_agent=False, on_update=cb)
    start = threading.Barrier(2)

    def prod(push, x, block):
        start.wait()
        for i in range(0, len(x), block):
            push(x[i:i + block])

    th = [threading.Thread(target=prod, args=(ag.push_user, a, 333)),
          threading.Thread(target=prod, args=(ag.push_agent, b, 517))]
    [t.start() for t in th]
    [t.join() for t in th]
    ag.close()
    for spk in ("user", "agent"):
        e, g = _frames(ref, spk), _frames(seen, spk)
        for col in ("t_s", "f0_hz", "energy_db", "speech", "voiced"):
            np.testing.assert_array_equal(g[col], e[col])
    assert len(ag.summary()["fto_s"]["values"]) >= 1


def test_threads_with_padding_stay_consistent(audio):
    """With pad_agent the agent's placement depends on timing, but frames stay whole and ordered."""
    a, b, _ = audio
    ag = AgentSession(SR)
    seen = []
    ag.subscribe(seen.append)

    def user():
        for i in range(0, len(a), 320):
            ag.push_user(a[i:i + 320])

    def agent():
        for i in range(0, SR, 320):
            ag.push_agent(b[3 * SR + i:3 * SR + i + 320])

    th = [threading.Thread(target=user), threading.Thread(target=agent)]
    [t.start() for t in th]
    [t.join() for t in th]
    ag.close()
    for spk in ("user", "agent"):
        t = _frames(seen, spk)["t_s"]
        np.testing.assert_allclose(np.diff(t), 0.01, atol=1e-9)
        assert t[0] == pytest.approx(0.005)
    assert len(_frames(seen, "user")) == len(_frames(seen, "agent"))


def test_merge_updates_concatenates_in_order(audio):
    a, b, _ = audio
    ups = _reference(a[:SR], b[:SR], block=800)
    m = merge_updates(ups)
    np.testing.assert_array_equal(m["frames"]["user"]["t_s"] if isinstance(m, dict) else
                                  m.frames["user"]["t_s"], _frames(ups, "user")["t_s"])
    assert len(m.pacing) == sum(len(u.pacing) for u in ups)
    assert not merge_updates([])


# --------------------------------------------------------------------- Pipecat
def test_pipecat_processor_in_a_real_pipeline(audio):
    pytest.importorskip("pipecat")
    import soxr
    from pipecat.frames.frames import InputAudioRawFrame, OutputAudioRawFrame
    from pipecat.tests.utils import SleepFrame, run_test

    from prosync.pipecat_adapter import ProsyncPacingFrame, ProsyncProcessor

    a, b, _ = audio
    a16 = (a[:4 * SR] * 32767).astype("<i2")
    # TTS audio at 24 kHz (a common TTS rate): resampled by the processor
    b24 = (soxr.resample(b[:4 * SR], SR, 24000) * 32767).astype("<i2")
    frames = []
    for k in range(200):  # 20 ms frames: user mic, then agent TTS, as a pipeline sees them
        if k % 10 == 0:
            # user audio frames are system frames (they overtake queued TTS audio): let the
            # pipeline drain now and then, as real-time input does
            frames.append(SleepFrame(sleep=0.02))
        frames.append(InputAudioRawFrame(audio=a16[k * 320:(k + 1) * 320].tobytes(),
                                         sample_rate=SR, num_channels=1))
        frames.append(OutputAudioRawFrame(audio=b24[k * 480:(k + 1) * 480].tobytes(),
                                          sample_rate=24000, num_channels=1))
    seen = []
    proc = ProsyncProcessor(sample_rate=SR, on_update=seen.append)
    down, _ = asyncio.run(run_test(proc, frames_to_send=frames))
    advice = [f for f in down if isinstance(f, ProsyncPacingFrame)]
    audio_out = [f for f in down if isinstance(f, (InputAudioRawFrame, OutputAudioRawFrame))]
    assert len(audio_out) == 400            # every frame passed on unchanged
    assert len(advice) >= 35                # 10 advice rows per second of audio
    assert advice[-1].advice.reply_delay_ms > 0
    assert proc.pacing() is advice[-1].advice or proc.pacing().t_s >= advice[-1].advice.t_s
    assert proc.agent_session.closed        # the EndFrame closed the session
    s = proc.summary()
    assert s["speakers"]["user"]["ipus"] == 1 and s["speakers"]["agent"]["ipus"] == 1
    # the TTS audio runs up to 200 ms ahead of the user's (as a TTS service does)
    assert 400 <= len(_frames(seen, "user")) <= 430
