"""Make the built-in demo dialogue with espeak-ng (Debian package ``espeak-ng``).

Two voices take turns in a scripted conversation. The first (ada) varies her rate and pitch from
turn to turn; the second (ben) starts in his own slow, low style and is scripted to move toward
her last turn, more and more over the session. That is the intent, not a measured result: with 12
exchanges the turn-level scores are weak (``prosync demo`` prints them with their p-values), and
the windowed synchrony is negative because the voices alternate. The result is a
stereo FLAC (channel 1 = ada, channel 2 = ben) at 16 kHz with natural-ish gaps and one overlap.

    python -m prosync.make_demo prosync/data/demo_dialogue.flac
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SR = 16000

LINES = [
    ("ada", "Hi Ben, thanks for making time today. How has your week been?"),
    ("ben", "Honestly, it has been a slow and heavy week. I did not sleep much."),
    ("ada", "I am sorry to hear that. What kept you awake at night?"),
    ("ben", "Mostly work. There is a deadline coming, and I keep thinking about it."),
    ("ada", "That sounds stressful. What part of the deadline worries you most?"),
    ("ben", "I think it is the presentation. I have to speak in front of the whole team."),
    ("ada", "Have you given presentations like that before?"),
    ("ben", "A few times, yes. The last one actually went quite well."),
    ("ada", "Oh, that is good to hear! What helped you the last time?"),
    ("ben", "I practised with a friend, and I wrote short notes for every slide."),
    ("ada", "That is a good plan. Could you do the same this time?"),
    ("ben", "Yes, I could. I could call my friend tonight and practise again."),
    ("ada", "How do you feel when you picture that?"),
    ("ben", "Better, I think. Lighter. It feels like something I can actually do."),
    ("ada", "What would you say in the first minute of the talk?"),
    ("ben", "I would start with the problem, and then show the numbers we found."),
    ("ada", "Wonderful. And if someone asks a hard question?"),
    ("ben", "Then I take a breath, and I say I will check and come back to them."),
    ("ada", "That sounds calm and honest. How does it feel to say it out loud?"),
    ("ben", "It feels good! Much better than keeping it all in my head."),
    ("ada", "Great. Let us write that down as your plan for the week."),
    ("ben", "Yes, let us do that. Thank you, this really helped."),
    ("ada", "You are welcome. See you next week, Ben."),
    ("ben", "See you next week. Bye for now."),
]


def _say(text, voice, wpm, pitch, wav):
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", str(wav),
                    text], check=True, capture_output=True)
    x, sr = sf.read(str(wav), dtype="float32")
    y = soxr.resample(x, sr, SR)
    nz = np.flatnonzero(np.abs(y) > 1e-3)  # trim espeak's leading/trailing silence
    return y[nz[0]:nz[-1] + 1] if nz.size else y


def make(out: Path) -> Path:
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is missing: apt-get install espeak-ng")
    rng = np.random.default_rng(7)
    n_turns = len(LINES)
    segs = []
    with tempfile.TemporaryDirectory() as td:
        last_ada = (170, 55)
        for i, (spk, text) in enumerate(LINES):
            if spk == "ada":
                # ada varies her rate and pitch from turn to turn
                wpm = int(rng.integers(150, 201))
                pitch = int(rng.integers(40, 76))
                last_ada = (wpm, pitch)
                y = _say(text, "en-us+f3", wpm, pitch, Path(td) / f"{i}.wav")
            else:
                # ben starts in his own slow, low, flat style and increasingly follows ada's
                # last turn: his rate and pitch converge to hers and co-vary with them
                w = i / (n_turns - 1)
                own_wpm, own_pitch = 120 + rng.integers(-10, 11), 25 + rng.integers(-8, 9)
                wpm = int(round((1 - w) * own_wpm + w * last_ada[0]))
                pitch = int(round((1 - w) * own_pitch + w * (last_ada[1] - 10)))
                y = _say(text, "en-gb+m3", wpm, pitch, Path(td) / f"{i}.wav")
            segs.append((spk, y))
    chans = {"ada": [], "ben": []}
    t = int(0.5 * SR)
    for i, (spk, y) in enumerate(segs):
        placed = (t, y)
        chans[spk].append(placed)
        # gaps of 700 ms shrinking to about 200 ms as the two converge, two overlaps
        gap = int(SR * (0.7 - 0.5 * i / len(segs) + rng.uniform(-0.05, 0.05)))
        if i in (12, 19):
            gap = -int(0.3 * SR)
        t = t + len(y) + gap
    n = t + int(0.5 * SR)
    stereo = np.zeros((n, 2), dtype=np.float32)
    for c, spk in enumerate(("ada", "ben")):
        for start, y in chans[spk]:
            stereo[start:start + len(y), c] += 0.5 * y
    # a little room noise so the noise floor is realistic
    stereo += rng.normal(0, 10 ** (-84 / 20), stereo.shape).astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), stereo, SR, format="FLAC", subtype="PCM_16")
    return out


if __name__ == "__main__":
    make(Path(sys.argv[1] if len(sys.argv) > 1 else "demo_dialogue.flac"))
