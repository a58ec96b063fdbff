"""A minimal voice-agent loop paced by prosync.

The "user" is channel 1 of the built-in demo dialogue (prosync/data/demo_dialogue.flac); the
agent listens through :class:`prosync.agent.AgentSession` and answers when prosync says go
(:meth:`~prosync.agent.AgentSession.reply_go`: the user's turn has ended by the causal
``turn_end_prob``, and their silence has reached the advised ``reply_delay_ms``, the user's own
median gap, 250 ms until three of their floor transfers are known), at the advised rate,
loudness and pitch
(espeak-ng when it is installed, else a generated tone-speech). When the user starts speaking
while the agent talks, the agent stops (barge-in). Time is simulated in 20 ms ticks, so the
run takes a few seconds; ``--realtime`` paces it like a live call.

    python examples/agent_loop.py [--seconds 30] [--out agent_loop.wav] [--tone] [--realtime]
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from prosync import Session
from prosync.agent import AgentSession

SR = 16000
TICK = 320  # 20 ms
DEMO = Path(__file__).resolve().parents[1] / "prosync" / "data" / "demo_dialogue.flac"
REPLIES = [
    "I see what you mean.", "That sounds good to me.", "Right, and then what happened?",
    "Okay, let me think about that.", "Yes, that makes sense.", "Interesting, tell me more.",
    "Sure, we can do that tomorrow.", "Hmm, I had not thought of it that way.",
]


def synthesise(text: str, rate_sps: float, loud_db: float, f0_st: float, tone: bool) -> np.ndarray:
    """The reply as float32 at 16 kHz, spoken at about ``rate_sps`` syllables per second."""
    if not tone and shutil.which("espeak-ng"):
        wpm = int(np.clip(rate_sps * 60 / 1.4, 80, 300))  # about 1.4 syllables per English word
        pitch = int(np.clip(50 + 6 * f0_st, 0, 99))
        amp = int(np.clip(100 * 10 ** (loud_db / 20), 10, 200))
        wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(wpm), "-p", str(pitch),
                              "-a", str(amp), "--stdout", text],
                             capture_output=True, check=True).stdout
        x, sr = sf.read(io.BytesIO(wav), dtype="float32")
        return soxr.resample(x, sr, SR).astype(np.float32)
    # tone-speech: one harmonic "syllable" per nucleus at the target rate
    n_syl = max(3, len(text.split()) * 3 // 2)
    syl = 1.0 / max(rate_sps, 1.0)
    f0 = 120.0 * 2 ** (f0_st / 12)
    t = np.arange(int(n_syl * syl * SR)) / SR
    env = np.clip(np.sin(np.pi * (t / syl % 1.0)), 0, None) ** 0.7
    x = sum(np.sin(2 * np.pi * k * f0 * t * (1 + 0.03 * np.sin(2 * np.pi * 0.7 * t))) / k
            for k in range(1, 9))
    return (0.2 * 10 ** (loud_db / 20) * env * x / 2.0).astype(np.float32)


def _use(value: float, confidence: float, default: float) -> float:
    return float(value) if np.isfinite(value) and confidence >= 0.5 else default


def recorded_gap_ms(x: np.ndarray) -> float:
    """The user's median gap in the recording itself (``x``: the user, their real partner), the
    timing the replies aim at: in the loop the recorded user does not wait for the agent, so
    their offsets after its replies say little."""
    s = Session(("user", "partner"), sample_rate=SR)
    for i in range(0, len(x), SR):
        s.push(0, x[i:i + SR, 0])
        s.push(1, x[i:i + SR, 1])
    s.close()
    return s.baselines["user"].fto_median_s * 1000


def run(seconds: float | None, out: str | None, tone: bool, realtime: bool, quiet: bool) -> dict:
    both, sr = sf.read(DEMO, dtype="float32", always_2d=True)
    if sr != SR:
        both = soxr.resample(both, sr, SR).astype(np.float32)
    if seconds:
        both = both[: int(seconds * SR)]
    user = np.ascontiguousarray(both[:, 0])
    agent = AgentSession(SR)            # pads the agent's stream with silence while it is quiet
    speaking: np.ndarray | None = None  # the reply being played
    pos = 0
    heard_user = False
    replies, barge_ins = [], 0
    mix = np.zeros((len(user), 2), np.float32) if out else None
    t_wall = time.perf_counter()

    def say(msg):
        if not quiet:
            print(msg, flush=True)

    for k in range(0, len(user), TICK):
        now = k / SR
        agent.push_user(user[k:k + TICK])          # the microphone's 20 ms
        if mix is not None:
            mix[k:k + TICK, 0] = user[k:k + TICK]
        if speaking is not None:                  # the loudspeaker's 20 ms
            if agent.user_speaking and pos > 0.3 * SR:
                say(f"{now:7.2f}s  user barges in: agent stops")
                barge_ins += 1
                speaking = None
            else:
                block = speaking[pos:pos + TICK]
                agent.push_agent(block)
                if mix is not None:
                    mix[k:k + len(block), 1] = block[: len(mix) - k]
                pos += TICK
                if pos >= len(speaking):
                    speaking = None
        advice = agent.pacing()
        if agent.user_speaking:
            heard_user = True
        elif speaking is None and heard_user and advice is not None:
            if agent.reply_go():
                # each item of advice is used once its baseline has settled (confidence)
                rate = _use(advice.target_rate_sps, advice.conf_rate, 4.0)
                loud = _use(advice.loudness_offset_db, advice.conf_loudness, 0.0)
                f0 = _use(advice.f0_offset_st, advice.conf_f0, 0.0)
                text = REPLIES[len(replies) % len(REPLIES)]
                speaking, pos, heard_user = synthesise(text, rate, loud, f0, tone), 0, False
                te = agent.last_turn_end
                waited = agent.session.end_of_turn_state()[1]
                replies.append({"t_s": now, "delay_ms": advice.reply_delay_ms, "rate_sps": rate,
                                "waited_ms": waited * 1000, "turn_end_ms": te.latency_s * 1000,
                                "conf_delay": advice.conf_reply_delay})
                say(f"{now:7.2f}s  user silent {waited * 1000:4.0f} ms (turn end at "
                    f"{te.latency_s * 1000:4.0f} ms, p {te.turn_end_prob:.2f}; advised delay "
                    f"{advice.reply_delay_ms:4.0f} ms) -> \"{text}\" at {rate:.1f} syl/s, "
                    f"{loud:+.1f} dB, {f0:+.1f} st")
        if realtime:
            lag = t_wall + (k + TICK) / SR - time.perf_counter()
            if lag > 0:
                time.sleep(lag)
    agent.close()
    s = agent.summary()
    u, a = s["speakers"]["user"], s["speakers"]["agent"]
    gap = agent.session.baselines["user"].fto_median_s
    rec_gap = recorded_gap_ms(both)
    if replies:
        waited = [r["waited_ms"] for r in replies]
        known = [r["waited_ms"] for r in replies if r["conf_delay"] >= 1.0]
        say(f"\nreplies waited a median {np.median(waited):.0f} ms after the user stopped (the "
            f"user's own gaps in the recording, to their real partner: median {rec_gap:.0f} ms; "
            f"after the agent's replies, which the recorded user does not wait for: "
            f"{gap * 1000:.0f} ms)"
            + (f"; once the user's gaps were known (3 floor transfers) a median "
               f"{np.median(known):.0f} ms over {len(known)} replies" if known else ""))
    say(f"{len(replies)} replies, {barge_ins} barge-ins; floor transfers "
        f"{s['fto_s']['count']}, median offset "
        f"{(s['fto_s']['median'] or 0) * 1000:+.0f} ms; user {u['speech_rate_sps']} syl/s, "
        f"agent {a['speech_rate_sps']} syl/s")
    if out:
        sf.write(out, mix, SR)
        say(f"wrote {out} (channel 1 user, channel 2 agent)")
    return {"replies": replies, "barge_ins": barge_ins, "summary": s, "user_gap_ms": gap * 1000,
            "recorded_gap_ms": rec_gap}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, help="only the first SECONDS of the dialogue")
    p.add_argument("--out", help="write the conversation (user, agent) as a stereo WAV")
    p.add_argument("--tone", action="store_true", help="tone-speech even if espeak-ng is installed")
    p.add_argument("--realtime", action="store_true", help="pace the loop like a live call")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    res = run(args.seconds, args.out, args.tone, args.realtime, args.quiet)
    return 0 if res["replies"] else 1


if __name__ == "__main__":
    sys.exit(main())
