"""bench/pitch_sim.py: its fit runs with the constants ``--tune`` names, however few."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


@pytest.mark.parametrize("tuned", [["vuv"], ["vuv", "jump"], ["vuv", "jump", "octave"]])
def test_fit_moves_only_the_tuned_constants(monkeypatch, tuned):
    """With one or two constants named, each trial drew up to 3 of them without replacement
    (numpy: 'Cannot take a larger sample than population')."""
    import pitch_sim as ps

    target = {"vuv": 0.5, "jump": 0.4, "octave": 0.1}
    # a quadratic bowl around the target stands in for the replayed tracker's score
    monkeypatch.setattr(ps, "score", lambda rows, p: p)
    monkeypatch.setattr(ps, "objective",
                        lambda res, praat, vw=False: sum((res[k] - target[k]) ** 2 for k in target))
    monkeypatch.setattr(ps, "STEPS", {k: ps.STEPS[k] for k in tuned})
    start = dict(ps.START)
    got = ps.fit([], {}, start, iters=200)
    for k in ps.START:
        if k in tuned:
            assert abs(got[k] - target[k]) < abs(start[k] - target[k]), k  # moved toward it
        else:
            assert got[k] == float(f"{start[k]:.2g}"), k                     # left alone


def test_tune_names_an_unknown_constant_in_one_line(capsys):
    import pitch_sim as ps

    with pytest.raises(SystemExit) as exc:
        ps.main(["--tune", "vuv,nope"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "nope not tunable; name one or more of octave, jump, vuv" in err
