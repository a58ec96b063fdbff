import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from prosync import AudioInputError
from prosync.cli import main
from prosync.score import score
from prosync.streams import rttm as R
from tests.audio import dialogue


def _mix(tmp_path, rttm_lines):
    a, b, ipus = dialogue()
    sf.write(str(tmp_path / "mix.wav"), (a + b).astype(np.float32), 16000, subtype="FLOAT")
    (tmp_path / "mix.rttm").write_text("".join(rttm_lines))
    return tmp_path / "mix.wav", tmp_path / "mix.rttm", ipus


def _lines(ipus, extra=()):
    out = [f"SPEAKER mix 1 {s:.2f} {e - s:.2f} <NA> <NA> {spk} <NA> <NA>\n"
           for spk, iv in ipus.items() for s, e in iv]
    return out + list(extra)


def test_mono_mix_split_by_rttm_flags_overlap(tmp_path):
    a, b, ipus = dialogue()
    wav, rttm, ipus = _mix(tmp_path, _lines(dialogue()[2]))
    res = score([wav], tmp_path / "o", rttm=rttm, report=False)
    turns = pq.read_table(tmp_path / "o" / "turns.parquet").to_pylist()
    ov = [t for t in turns if t["kind"] == "rttm_overlap"]
    assert len(ov) == 1 and ov[0]["start_s"] == pytest.approx(7.8) and ov[0]["end_s"] == pytest.approx(8.0)
    assert res.summary["rttm"]["overlaps"] == 1
    ipu_a = [t for t in turns if t["kind"] == "ipu" and t["speaker"] == "a"]
    assert 1 <= len(ipu_a) <= 3
    assert res.summary["speakers"]["a"]["f0_median_hz"] == pytest.approx(210, rel=0.05)
    assert res.summary["speakers"]["b"]["f0_median_hz"] == pytest.approx(110, rel=0.05)


def test_gate_zeroes_outside_turns():
    iv = np.array([[10, 20], [30, 40]])
    x = np.ones(50, np.float32)
    g = R.gate(x[5:45], 5, iv)
    assert g.sum() == 20 and g[5] == 1 and g[4] == 0


@pytest.mark.parametrize("lines, speakers, msg", [
    (["SPEAKER mix 1 0 1 <NA> <NA> x <NA> <NA>\n", "SPEAKER mix 1 1 1 <NA> <NA> y <NA> <NA>\n",
      "SPEAKER mix 1 2 1 <NA> <NA> z <NA> <NA>\n"], None, "pick two with speakers="),
    (["SPEAKER mix 1 0 1 <NA> <NA> x <NA> <NA>\n", "SPEAKER mix 1 1 1 <NA> <NA> y <NA> <NA>\n"],
     ["x", "q"], "not q"),
    (["SPEAKER mix 1 0 1 <NA> <NA> x <NA> <NA>\n", "SPEAKER mix 1 1 30 <NA> <NA> y <NA> <NA>\n"],
     None, "past the end"),
    (["SPEAKER mix 1 zero 1 <NA> <NA> x <NA> <NA>\n"], None, "not a number"),
    (["# nothing\n"], None, "no SPEAKER lines"),
])
def test_bad_rttm(tmp_path, lines, speakers, msg):
    wav, rttm, _ = _mix(tmp_path, lines)
    with pytest.raises(AudioInputError, match=msg):
        score([wav], tmp_path / "o", rttm=rttm, speakers=speakers, report=False)


def test_bad_rttm_cli_one_line_exit_2(tmp_path, capsys):
    wav, rttm, _ = _mix(tmp_path, ["SPEAKER mix 1 0 99 <NA> <NA> x <NA> <NA>\n",
                                   "SPEAKER mix 1 0 1 <NA> <NA> y <NA> <NA>\n"])
    assert main(["score", str(wav), "--rttm", str(rttm), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mix.rttm" in err[0] and "past the end" in err[0]


def test_rttm_out_round_trip(tmp_path):
    p = R.write_rttm(tmp_path / "x.rttm", "x", [("a", 0.5, 2.5), ("b", 3.0, 5.2)])
    t = R.read_rttm(p)
    assert [(x.speaker, x.start_s, x.end_s) for x in t] == [("a", 0.5, 2.5), ("b", 3.0, 5.2)]


def test_misspelt_record_type_is_an_error_with_its_line(tmp_path, capsys):
    lines = _lines(dialogue()[2])
    lines[2] = lines[2].replace("SPEAKER", "SPAEKER")  # this turn would be lost silently
    p = tmp_path / "bad.rttm"
    p.write_text("".join(lines))
    with pytest.raises(AudioInputError, match=r"bad\.rttm:3: unknown RTTM record type 'SPAEKER' "
                                              r"\(did you mean SPEAKER\?\)"):
        R.read_rttm(p)
    wav, rttm, _ = _mix(tmp_path, lines)
    assert main(["score", str(wav), "--rttm", str(rttm), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mix.rttm:3: unknown RTTM record type 'SPAEKER'" in err[0]


def test_standard_nist_record_types_are_ignored(tmp_path):
    ipus = dialogue()[2]
    plain = R.read_rttm(R.write_rttm(tmp_path / "plain.rttm", "mix",
                                     [(s, a, b) for s, iv in ipus.items() for a, b in iv]))
    extra = ["SPKR-INFO mix 1 <NA> <NA> <NA> adult_female a <NA> <NA>\n",
             "LEXEME mix 1 0.50 0.30 hello lex a <NA> <NA>\n",
             "NON-SPEECH mix 1 5.20 0.50 <NA> noise <NA> <NA> <NA>\n",
             "NOSCORE mix 1 0.00 0.20 <NA> <NA> <NA> <NA> <NA>\n",
             ";; a comment\n", "# another\n"]
    p = tmp_path / "nist.rttm"
    p.write_text("".join(extra[:3] + _lines(ipus, extra[3:])))
    def key(turns):
        return sorted((t.speaker, round(t.start_s, 3), round(t.end_s, 3)) for t in turns)
    assert key(R.read_rttm(p)) == key(plain) and len(plain) == 4
