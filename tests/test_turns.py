"""Turn tracker: batch rules against the reference CSVs, streaming against batch, causality."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from prosync.engine.config import TurnConfig
from prosync.engine.errors import ProsyncError
from prosync.engine.turns import (
    HOP_MS,
    TurnEvent,
    TurnTracker,
    frames_to_segments,
    turn_events_from_segments,
)

# ----------------------------------------------------------------------------- reference inputs


def _read_rttm(path: Path, speakers) -> dict:
    segs = {s: [] for s in speakers}
    for line in path.read_text().splitlines():
        f = line.split()
        if not f or f[0] != "SPEAKER":
            continue
        a, d = float(f[3]), float(f[4])
        segs.setdefault(f[7], []).append((a, a + d))
    return segs


def _read_words(path: Path) -> dict:
    segs = {"ch0": [], "ch1": []}
    with path.open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            segs[f"ch{row['channel']}"].append((float(row["start_s"]), float(row["end_s"])))
    return segs


def _duration(wav: Path) -> float:
    import soundfile as sf

    info = sf.info(str(wav))
    return round(info.frames * 1000 / info.samplerate) / 1000


def _reference_inputs(data: Path):
    """(name, source, segments, duration_s) for every reference input."""
    c = data / "candor_mmvap_stereo"
    p = data / "pyannote_sample_phonecall"
    out = []
    for rec in ("shift", "hold"):
        dur = _duration(c / f"{rec}.wav")
        out.append((f"candor_{rec}", "rttm", _read_rttm(c / f"{rec}.rttm", ("ch0", "ch1")), dur))
        out.append((f"candor_{rec}", "words", _read_words(c / f"{rec}.words.tsv"), dur))
    segs = _read_rttm(p / "sample.rttm", ("speaker90", "speaker91"))
    out.append(("pyannote_sample", "rttm", segs, _duration(p / "sample.wav")))
    return out


def _f3(x: float) -> str:
    return f"{x:.3f}"


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open() as fh:
        return [row for row in csv.reader(fh)][1:]


def _ipu_rows(ipus):
    return [[e.speaker, _f3(e.start_s), _f3(e.end_s), _f3(e.duration_s)] for e in ipus]


def _state_rows(states):
    return [[_f3(a), _f3(b), _f3((round(b * 1000) - round(a * 1000)) / 1000), s]
            for a, b, s in states]


def _event_rows(events):
    return [[e.kind, _f3(e.start_s), _f3(e.end_s), _f3(e.duration_s), e.speaker_before,
             e.speaker_after, "" if math.isnan(e.fto_s) else _f3(e.fto_s)] for e in events]


CASES = [(rec, src, th) for rec, srcs in (("candor_shift", ("rttm", "words")),
                                          ("candor_hold", ("rttm", "words")),
                                          ("pyannote_sample", ("rttm",)))
         for src in srcs for th in (0, 180)]


@pytest.mark.shared
@pytest.mark.parametrize("rec,src,theta_ms", CASES)
def test_batch_reproduces_reference(shared_data, rec, src, theta_ms):
    ref = shared_data / "reference" / "turns"
    inputs = {(n, s): (seg, d) for n, s, seg, d in _reference_inputs(shared_data)}
    segs, dur = inputs[(rec, src)]
    ipus, states, events = turn_events_from_segments(segs, dur, theta_ms / 1000)
    stem = f"{rec}__{src}__ipu{theta_ms}ms__"
    assert _ipu_rows(ipus) == _csv_rows(ref / f"{stem}ipus.csv")
    state_rows = _csv_rows(ref / f"{stem}states.csv")
    assert _state_rows(states) == state_rows
    assert _event_rows(events) == _with_direct_handovers(_csv_rows(ref / f"{stem}events.csv"),
                                                         state_rows)


def _with_direct_handovers(event_rows, state_rows):
    """The reference events plus a zero-length gap (FTO 0) wherever one speaker alone is followed
    directly by the other alone (``shift`` at 29.665 s): the reference files list no event there,
    but rule 6 gives every floor change an FTO, and issue 15 asks that every handover be a row
    (a handover inside one frame was lost before)."""
    out = list(event_rows)
    for prev, nxt in zip(state_rows, state_rows[1:]):
        if prev[3] not in ("none", "both") and nxt[3] not in ("none", "both") and prev[3] != nxt[3]:
            t = nxt[0]
            out.append(["gap", t, t, "0.000", prev[3], nxt[3], "0.000"])
    return sorted(out, key=lambda r: float(r[1]))


# ----------------------------------------------------------------------------- streaming helpers


def _rasterise(segs: dict, dur_s: float) -> tuple[list[np.ndarray], int]:
    """Frame k is speech when its centre (k + 0.5) * 10 ms lies inside a segment."""
    n = int(math.ceil(round(dur_s * 1000) / HOP_MS))
    centres = (np.arange(n) + 0.5) * HOP_MS
    flags = []
    for s in segs:
        f = np.zeros(n, dtype=bool)
        for a, b in segs[s]:
            f |= (centres >= round(a * 1000)) & (centres < round(b * 1000))
        flags.append(f)
    return flags, n


def _key(e: TurnEvent):
    return (e.kind, e.speaker, e.start_s, e.end_s, None if math.isnan(e.fto_s) else e.fto_s,
            e.speaker_before, e.speaker_after)


def _stream(speakers, flags, n, theta_s, cuts, log=None, min_ipu=0.0, voiced=None,
            min_voiced=0.0, lead=None, lookback=0.0, breath_gap=0.0, loud=None):
    tr = TurnTracker(speakers, TurnConfig(ipu_bridge_s=theta_s, min_ipu_s=min_ipu,
                                          min_voiced_s=min_voiced, onset_lookback_s=lookback,
                                          breath_gap_s=breath_gap))
    out = []
    bounds = [0, *sorted(cuts), n]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        ev = tr.update(a, b - a, [f[a:b] for f in flags],
                       None if voiced is None else [v[a:b] for v in voiced],
                       None if lead is None else [x[a:b] for x in lead],
                       None if loud is None else [x[a:b] for x in loud])
        out.extend(ev)
        if log is not None:
            log.extend((b, e) for e in ev)
    ev = tr.flush()
    out.extend(ev)
    if log is not None:
        log.extend((None, e) for e in ev)
    return out, tr


def _split(out, speakers):
    ipus = sorted((e for e in out if e.kind == "ipu"),
                  key=lambda e: (speakers.index(e.speaker), e.start_s))
    events = [e for e in out if e.kind != "ipu"]
    return [_key(e) for e in ipus], [_key(e) for e in events]


def _batch_on_frames(speakers, flags, n, theta_s, min_ipu=0.0):
    segs = {s: frames_to_segments(f) for s, f in zip(speakers, flags, strict=True)}
    ipus, _, events = turn_events_from_segments(segs, n * HOP_MS / 1000, theta_s, min_ipu)
    return [_key(e) for e in ipus], [_key(e) for e in events]


@pytest.mark.shared
@pytest.mark.parametrize("theta_s", [0.0, 0.18, 0.25])
def test_streaming_equals_batch_on_reference(shared_data, theta_s):
    rng = np.random.default_rng(7)
    for _name, _src, segs, dur in _reference_inputs(shared_data):
        speakers = tuple(segs)
        flags, n = _rasterise(segs, dur)
        want = _batch_on_frames(speakers, flags, n, theta_s)
        assert want[1], "reference input yields events"
        for _ in range(3):
            cuts = rng.choice(np.arange(1, n), size=int(rng.integers(1, 60)), replace=False)
            got, _tr = _stream(speakers, flags, n, theta_s, cuts)
            assert _split(got, speakers) == want


def _random_flags(rng, n, p_on=0.04, p_off=0.06):
    """Markov on/off frames: runs of varied length, many short silences."""
    f = np.zeros(n, dtype=bool)
    on = bool(rng.integers(2))
    u = rng.random(n)
    for k in range(n):  # test helper only
        if (on and u[k] < p_off) or (not on and u[k] < p_on):
            on = not on
        f[k] = on
    return f


@pytest.mark.parametrize("seed", range(12))
def test_streaming_equals_batch_random(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    n_spk = 1 + seed % 2
    speakers = ("a", "b")[:n_spk]
    flags = [_random_flags(rng, n) for _ in speakers]
    if seed % 4 == 3:  # both speakers switch at the same frames sometimes
        flags[-1] = flags[0] if n_spk == 1 else ~flags[0]
    theta = [0.0, 0.05, 0.18, 0.2, 0.185][seed % 5]
    want = _batch_on_frames(speakers, flags, n, theta)
    cuts = rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(0, 40))), replace=False) \
        if n > 1 else []
    got, _ = _stream(speakers, flags, n, theta, cuts)
    assert _split(got, speakers) == want


def _bridge_ref(runs, gap_ms):
    out = []
    for a, b in runs:
        if out and (a - out[-1][1]) * HOP_MS < gap_ms:
            out[-1][1] = b
        else:
            out.append([a, b])
    return out


def _confirmed_ipus_ref(flags, voiced, theta_ms, attach_ms, min_ms, min_voiced, lead=None,
                        lead_max=0, breath_gap=0, loud=None):
    """Slow twin of the IPU stages: runs of speech frames, each dated back by its first frame's
    lead (at most ``lead_max``, to the frame after the previous run's end at most), bridged into
    stretches (gaps under ``min(attach, theta)``), each stretch starting at its last run that
    follows the run before by ``breath_gap`` frames or more with no voiced and no ``loud`` speech
    frame before it (when ``min_voiced`` and ``breath_gap`` are set), stretches with fewer than
    ``min_voiced`` voiced speech frames dropped, the rest bridged into IPUs (gaps under theta),
    IPUs under ``min_ms`` dropped."""
    runs = []
    for k, f in enumerate(flags):
        if f and runs and runs[-1][1] == k:
            runs[-1][1] = k + 1
        elif f:
            back = 0 if lead is None else min(int(lead[k]), lead_max)
            runs.append([max(k - back, runs[-1][1] + 1 if runs else 0), k + 1])
    stretches = _bridge_ref(runs, min(attach_ms, theta_ms))
    if min_voiced > 0 and breath_gap > 0:
        for st in stretches:
            inside = [r for r in runs if st[0] <= r[0] < st[1]]
            for prev, r in zip(inside[:-1], inside[1:], strict=True):
                if any(flags[i] and (voiced[i] or (loud is not None and loud[i]))
                       for i in range(st[0], prev[1])):
                    break
                if r[0] - prev[1] >= breath_gap:
                    st[0] = r[0]
    kept = [(a, b) for a, b in stretches
            if sum(1 for i in range(a, b) if flags[i] and voiced[i]) >= min_voiced]
    return [(a * HOP_MS / 1000, b * HOP_MS / 1000) for a, b in _bridge_ref(kept, theta_ms)
            if (b - a) * HOP_MS >= min_ms]


@pytest.mark.parametrize("seed", range(10))
def test_confirmed_ipus_streaming_equals_reference(seed):
    rng = np.random.default_rng(50 + seed)
    n = int(rng.integers(200, 2500))
    speakers = ("a", "b")
    flags = [_random_flags(rng, n, 0.08, 0.12) for _ in speakers]
    voiced = [f & (rng.random(n) < [0.05, 0.3, 0.7][seed % 3]) for f in flags]
    theta, min_ipu, min_voiced = [(0.18, 0.08, 0.03), (0.0, 0.05, 0.02), (0.25, 0.2, 0.1),
                                  (0.18, 0.0, 0.05), (0.1, 0.1, 0.0)][seed % 5]
    lookback = [0.0, 0.1, 0.05][seed % 3]
    breath_gap = [0.0, 0.02, 0.05, 0.01][seed % 4]
    lead = [rng.integers(0, 15, n).astype(np.int16) for _ in speakers]  # some over the cap
    loud = [rng.random(n) < 0.2 for _ in speakers]
    segs = {s: _confirmed_ipus_ref(f.tolist(), v.tolist(), round(theta * 1000), 100,
                                   round(min_ipu * 1000), round(min_voiced * 100), ld,
                                   round(lookback * 100), round(breath_gap * 100), lo.tolist())
            for s, f, v, ld, lo in zip(speakers, flags, voiced, lead, loud, strict=True)}
    ipus, _, events = turn_events_from_segments(segs, n * HOP_MS / 1000, 0.0)
    want = ([_key(e) for e in ipus], [_key(e) for e in events])
    assert want[0], "some IPUs survive"
    for _ in range(2):
        cuts = rng.choice(np.arange(1, n), size=int(rng.integers(0, 50)), replace=False)
        got, _ = _stream(speakers, flags, n, theta, cuts, min_ipu=min_ipu, voiced=voiced,
                         min_voiced=min_voiced, lead=lead, lookback=lookback,
                         breath_gap=breath_gap, loud=loud)
        assert _split(got, speakers) == want


def test_stray_frames_are_not_ipus():
    # single stray frames 100 ms apart: bridged they would make a 410 ms IPU; unvoiced, they
    # make none; one voiced frame is not enough either
    f = np.zeros(100, bool)
    f[[20, 30, 40, 50, 60]] = True
    v = np.zeros(100, bool)
    v[40] = True
    got, _ = _stream(("a",), [f], 100, 0.18, [], min_ipu=0.08, voiced=[v], min_voiced=0.03)
    assert [e for e in got if e.kind == "ipu"] == []
    v[[20, 30]] = True  # three voiced frames: one IPU from the first to the last
    got, _ = _stream(("a",), [f], 100, 0.18, [], min_ipu=0.08, voiced=[v], min_voiced=0.03)
    assert [(e.start_s, e.end_s) for e in got if e.kind == "ipu"] == [(0.2, 0.61)]


def test_breath_before_a_word_is_not_its_onset():
    # an unvoiced run (an inhalation, a click) 50 ms before a voiced word: the IPU starts at the
    # word; a burst 10 ms before it (a stop's release) stays; after the first voiced frame an
    # unvoiced run apart from the rest stays too (a final fricative)
    f = np.zeros(100, bool)
    f[10:15] = True  # breath
    f[20:40] = True  # word
    f[45:50] = True  # final fricative after a closure
    v = np.zeros(100, bool)
    v[22:38] = True

    def ipus(flags, gap, loud=None):
        got, _ = _stream(("a",), [flags], 100, 0.18, [], min_ipu=0.08, voiced=[v],
                         min_voiced=0.03, breath_gap=gap, loud=None if loud is None else [loud])
        return [(e.start_s, e.end_s) for e in got if e.kind == "ipu"]

    assert ipus(f, 0.02) == [(0.2, 0.5)]
    assert ipus(f, 0.0) == [(0.1, 0.5)]  # off: the breath opens the IPU
    loud = np.zeros(100, bool)
    loud[30:35] = True
    assert ipus(f, 0.02, loud) == [(0.2, 0.5)]  # loud frames after the voice change nothing
    loud[12] = True  # a loud voiceless run (a fricative onset in noise) is the onset
    assert ipus(f, 0.02, loud) == [(0.1, 0.5)]
    f[19] = False
    f[16:19] = True  # the run before is 10 ms apart: a burst, it stays
    assert ipus(f, 0.02) == [(0.1, 0.5)]


# ----------------------------------------------------------------------------- known answers


def _ev(segs, dur, theta=0.18):
    _, states, events = turn_events_from_segments(segs, dur, theta)
    return states, [(e.kind, e.start_s, e.end_s, e.speaker_before, e.speaker_after,
                     None if math.isnan(e.fto_s) else e.fto_s) for e in events]


def test_backchannel_in_the_clear_gives_two_gaps():
    _, ev = _ev({"a": [(0.5, 2.0), (3.0, 5.0)], "b": [(2.3, 2.6)]}, 6.0)
    assert ev == [("edge_silence", 0.0, 0.5, "", "a", None),
                  ("gap", 2.0, 2.3, "a", "b", 0.3),
                  ("gap", 2.6, 3.0, "b", "a", 0.4),
                  ("edge_silence", 5.0, 6.0, "a", "", None)]


def test_direct_handover_is_a_zero_length_gap():
    # a stops in the very millisecond b starts: still a floor transfer, FTO 0
    _, ev = _ev({"a": [(0.0, 1.0)], "b": [(1.0, 2.0)]}, 2.0)
    assert ev == [("gap", 1.0, 1.0, "a", "b", 0.0)]
    # streaming, on 10 ms frames: the same row, also when the frames arrive one by one
    fa = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    got, _ = _stream(("a", "b"), [fa, ~fa], 100, 0.18, np.arange(1, 100))
    gaps = [e for e in got if e.kind == "gap"]
    assert [(e.start_s, e.end_s, e.fto_s, e.speaker_before, e.speaker_after) for e in gaps] == \
        [(0.5, 0.5, 0.0, "a", "b")]


def test_pause_bridging_is_strict():
    # a silence of exactly theta is a pause; shorter is bridged
    _, ev = _ev({"a": [(0.0, 1.0), (1.18, 2.0), (2.179, 3.0)], "b": []}, 3.0)
    assert ev == [("pause", 1.0, 1.18, "a", "a", None)]


def test_overlap_kinds():
    _, ev = _ev({"a": [(0.0, 2.0), (4.0, 6.0)], "b": [(1.5, 3.0), (4.5, 5.0)]}, 6.0)
    assert ev == [("overlap_between", 1.5, 2.0, "a", "b", -0.5),
                  ("gap", 3.0, 4.0, "b", "a", 1.0),
                  ("overlap_within", 4.5, 5.0, "a", "a", None)]


def test_ambiguous_and_other():
    # both start together after a silence; both stop together at the end of a gap
    states, ev = _ev({"a": [(0.0, 1.0), (2.0, 3.0)], "b": [(2.0, 4.0)]}, 5.0)
    assert ev == [("silence_ambiguous", 1.0, 2.0, "a", "", None),
                  ("overlap_other", 2.0, 3.0, "", "b", None),
                  ("edge_silence", 4.0, 5.0, "b", "", None)]
    assert states[0] == (0.0, 1.0, "a")


def test_empty_and_single_speaker():
    _, ev = _ev({"a": [], "b": []}, 2.0)
    assert ev == [("edge_silence", 0.0, 2.0, "", "", None)]
    _, ev = _ev({"x": [(0.2, 0.5), (0.9, 1.0)]}, 1.0)
    assert ev == [("edge_silence", 0.0, 0.2, "", "x", None), ("pause", 0.5, 0.9, "x", "x", None)]


def test_overlap_touching_end_is_other():
    _, ev = _ev({"a": [(0.0, 2.0)], "b": [(1.0, 2.0)]}, 2.0)
    assert ev == [("overlap_other", 1.0, 2.0, "a", "", None)]


# ----------------------------------------------------------------------------- causality


def test_bounded_delay_frame_by_frame():
    rng = np.random.default_rng(3)
    n = 1500
    speakers = ("a", "b")
    flags = [_random_flags(rng, n, 0.03, 0.03) for _ in speakers]
    theta = 0.18
    th_ms = 180
    log = []
    _stream(speakers, flags, n, theta, np.arange(1, n), log)
    for now, e in log:
        if now is None:
            continue
        now_ms = now * HOP_MS
        end_ms = round(e.end_s * 1000)
        start_ms = round(e.start_s * 1000)
        if e.kind == "ipu":
            # final exactly when theta of silence followed it (within one frame)
            assert end_ms + th_ms <= now_ms < end_ms + th_ms + HOP_MS
        elif e.kind in ("gap", "pause", "silence_ambiguous"):
            # when the next IPU starts, or once the previous IPU is final
            assert now_ms <= max(end_ms + HOP_MS, start_ms + th_ms + HOP_MS)
        else:
            # an overlap: once the stopping speaker's IPU end is final
            assert now_ms <= end_ms + th_ms + HOP_MS
        assert now_ms >= end_ms


def test_memory_bounded_on_long_session():
    tr = TurnTracker(("a", "b"), TurnConfig())
    rng = np.random.default_rng(0)
    block = 100
    n_ev = 0
    for i in range(300):
        flags = [_random_flags(rng, block, 0.05, 0.05) for _ in range(2)]
        n_ev += len(tr.update(i * block, block, flags))
        assert all(len(sp.edges) <= 4 for sp in tr._spk)
    assert n_ev > 100


def test_update_errors():
    tr = TurnTracker(("a", "b"), TurnConfig(min_ipu_s=0.0))  # a 30 ms IPU counts here
    tr.update(0, 3, [np.ones(3, bool), np.zeros(3, bool)])
    with pytest.raises(ProsyncError, match="k0=5"):
        tr.update(5, 1, [np.ones(1, bool), np.zeros(1, bool)])
    with pytest.raises(ProsyncError, match="one per speaker"):
        tr.update(3, 1, [np.ones(1, bool)])
    assert tr.flush()[0].kind == "ipu"
    assert tr.flush() == []
    with pytest.raises(ProsyncError, match="after flush"):
        tr.update(3, 1, [np.ones(1, bool), np.zeros(1, bool)])


def test_three_speakers_are_refused_in_one_line():
    """The streaming tracker reads speakers 0 and -1 only: a third would be dropped silently."""
    with pytest.raises(ProsyncError, match="one or two speakers, got 3") as e:
        TurnTracker(("a", "b", "c"), TurnConfig())
    assert "\n" not in str(e.value)
