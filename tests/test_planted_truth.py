"""The planted turn-timing bench's truth cut (``bench/planted.py``) against the laryngograph/EGG
voicing of FDA and ARCTIC: breaths before onsets split off, final consonants kept, no voiced
speech outside the truth IPUs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("parselmouth")
from bench import planted  # noqa: E402


def utt(path):
    x = planted.load16(path)
    x[:480] *= np.linspace(0.0, 1.0, 480, dtype=np.float32) ** 4
    return x


def test_inhalation_before_onset_is_not_speech(shared_data):
    # FDA sb017 "Do you have a smaller size?": lip clicks from 0.26 s, an inhalation 0.45-0.69 s,
    # the onset at 0.70 s (the laryngograph voices from 0.76 s)
    x = utt(shared_data / "fda_ue_pitch" / "sb017.wav")
    segs, _, _, breaths = planted.truth_segments(x)
    old = planted.truth_segments(x, planted.Cut(breaths=False))[0]
    assert 0.68 <= segs[0][0] <= 0.72
    assert old[0][0] < 0.5  # without the breath rule the clicks and the breath open the IPU
    assert any(a < 0.6 and b > 0.5 for a, b in breaths)


def test_final_consonants_after_their_closure_stay(shared_data):
    # NOIZEUS sp06 "... seldom get rich": /tS/ frication 2.50-2.65 s after its closure
    segs = planted.truth_segments(utt(shared_data / "noizeus" / "clean" / "sp06.wav"))[0]
    assert segs[-1][1] >= 2.62


@pytest.mark.parametrize("name", ["fda_ue_pitch/rl001.wav", "fda_ue_pitch/sb001.wav",
                                  "fda_ue_pitch/sb035.wav", "arctic_egg_gci/bdl_arctic_a0001.wav",
                                  "arctic_egg_gci/en-IN.m.KspAr_arctic_a0002.wav",
                                  "arctic_egg_gci/en-CA.m.JmkAr_arctic_a0001.wav"])
def test_no_egg_voicing_outside_the_truth(shared_data, name):
    path = shared_data / name
    x = utt(path)
    segs, level, floor, _ = planted.truth_segments(x)
    inside = np.zeros(x.shape[0] // 16, bool)
    for a, b in segs:
        inside[int(a * 1000):int(b * 1000)] = True
    g = planted.reference_voicing(path, inside.shape[0])
    assert (g & ~inside).sum() <= 0.01 * g.sum()
    assert level - floor > 30  # the floor is the silence, not a percentile inside the speech
    for a, _b in segs:  # every IPU starts at most 200 ms before the EGG voices (no breath in it:
        # FDA inhalations 200-500 ms; unvoiced onsets such as jmk a0001 "Steels" at 151 ms)
        on = np.flatnonzero(g[int(a * 1000):])
        assert on.size == 0 or on[0] <= 200


def test_clicks_that_praat_voices_are_not_an_ipu(shared_data):
    # FDA sb027 "... his work.": after the /k/ release, 400 ms of lip clicks 35-45 dB under the
    # speech level that Praat voices in places (the laryngograph does not): no truth IPU there
    path = shared_data / "fda_ue_pitch" / "sb027.wav"
    x = utt(path)
    segs = planted.truth_segments(x)[0]
    assert not any(a < 3.6 and b > 3.4 for a, b in segs)
    loose = planted.truth_segments(x, planted.Cut(voiced_db=200.0))[0]  # any Praat voicing counts
    assert any(a < 3.6 and b > 3.4 for a, b in loose)
