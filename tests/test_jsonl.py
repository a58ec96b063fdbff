import json

import numpy as np

from prosync import Session
from prosync.engine.schema import FRAMES, PACING, SYNCHRONY
from prosync.streams.jsonl import update_to_dict, update_to_jsonl
from tests.audio import dialogue


def test_json_rows_have_the_table_columns_and_no_nan():
    a, b, _ = dialogue()
    s = Session()
    s.push(0, a)
    upd = s.push(1, b)
    d = update_to_dict(upd)
    assert d["frames"] and d["synchrony"] and d["pacing"] and d["turns"]
    assert set(d["frames"][0]) == set(FRAMES.names)
    assert set(SYNCHRONY.names) <= set(d["synchrony"][0])
    assert set(PACING.names) <= set(d["pacing"][0])
    lines = update_to_jsonl(upd).splitlines()
    rows = [json.loads(line) for line in lines]  # strict JSON: NaN would fail allow_nan=False
    assert {r["type"] for r in rows} == {"frame", "turn", "synchrony", "pacing", "end_of_turn",
                                         "turn_end"}
    f0 = [r["f0_hz"] for r in rows if r["type"] == "frame"]
    assert None in f0 and any(isinstance(v, float) for v in f0)
    assert np.all(np.diff([r["t_s"] for r in d["frames"]]) >= 0)
