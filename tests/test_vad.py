"""VAD kernels against slow pure-Python references, plus known-answer cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prosync.native.vad import ABS_FLOOR_DB, MASK_MIN_FILL


def _random_energy(rng, n):
    """Noise around -70 dB with bursts of speech around -25 dB."""
    e = rng.normal(-70, 3, n)
    on = np.zeros(n, bool)
    k = 0
    while k < n:
        length = int(rng.integers(5, 80))
        on[k:k + length] = rng.random() < 0.5
        k += length
    e[on] = rng.normal(-25, 8, on.sum())
    return e.astype(np.float32), on


def apply_hangover_ref(raw, hang_frames, hang=0):
    out = []
    for r in raw:
        if r:
            hang = hang_frames
            out.append(True)
        elif hang > 0:
            hang -= 1
            out.append(True)
        else:
            out.append(False)
    return np.array(out, bool), hang


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_apply_hangover_matches_reference_across_splits(seed):
    from prosync.native.vad import apply_hangover

    rng = np.random.default_rng(seed)
    raw = rng.random(400) < 0.3
    want, _ = apply_hangover_ref(raw, 5)
    out = np.zeros(400, bool)
    state = np.zeros(1)
    cuts = np.sort(rng.choice(np.arange(1, 400), 9, replace=False))
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, 400]):
        apply_hangover(raw[a:b], b - a, state, 5, out[a:b])
    np.testing.assert_array_equal(out, want)


# ----------------------------------------------------------------------------- hysteresis VAD


def vad_hysteresis_ref(energy_db, webrtc, voiced, per, on_db, off_db, v_db, q, max_uv, rel_db,
                       level_q, level_step, window, per_min, q_hi=0.9, pk_on=-100.0, pk_off=-100.0,
                       m_range=45.0, m_slope=0.0, m_max=0, m_run=0, lead_max=0, loud_db=20.0,
                       tail_db=0.0, tail_rel=0.0, ev_frac=0.5, ev_frac_new=0.5, ev_hold=0):
    """Obviously correct frame loop of :func:`vad_hysteresis`: the floor is the ``q`` quantile
    (lower bin edge, 0.5 dB bins) of a plain list of the last ``window`` non-speech frames, the
    noise peak its ``q_hi`` quantile; a faded tail is extended by a count of frames. Returns the
    decisions, the evidence flags, the onset leads (looked up afterwards: the frames before each
    onset, back to the last speech frame, that stood over their own floor and peak), the floor
    and the level, and the loud flags (speech within ``loud_db`` of the level before the frame;
    none before a level is known). Evidence: a clear voiced frame over the fraction ``ev_frac`` of
    the way from the floor to the level when one of the last ``ev_hold`` frames was evidence,
    ``ev_frac_new`` otherwise (any clear frame, before a level is known)."""
    from prosync.native.vad import HIST_LO_DB, HIST_PER_DB, energy_bin

    hist_frames = []  # bins of non-speech frames, oldest first
    in_speech, unvoiced, pend, level, noise = False, 0, [], 0.0, False
    run, masked_left = 0, 0
    out, evid, over, loud = [], [], [], []
    prev_e = 0.0

    def floor_of(q=q):
        if not hist_frames:
            return math.nan
        srt = sorted(hist_frames)
        # smallest bin whose cumulative count reaches q * count
        for b in range(srt[0], srt[-1] + 1):
            if sum(1 for x in srt if x <= b) >= q * len(srt) and b >= srt[0]:
                return HIST_LO_DB + b / HIST_PER_DB
        return HIST_LO_DB + srt[-1] / HIST_PER_DB

    def add(b):
        hist_frames.append(b)
        if len(hist_frames) > window:
            hist_frames.pop(0)

    for e, w, v, p in zip(energy_db, webrtc, voiced, per, strict=True):
        e = float(e)
        b = energy_bin(e)
        level_before = level
        floor, peak = floor_of(), floor_of(q_hi)
        if math.isnan(floor):
            floor = peak = e
        speech = False
        faded = False
        if e > ABS_FLOOR_DB:
            if v and e > floor + v_db:
                speech = True
            elif level != 0.0 and e < level - rel_db and (p < per_min or not in_speech):
                speech = False
            elif in_speech:
                # the tail margin where the floor lies far enough under the level
                go_on = floor + off_db if level == 0.0 else max(
                    floor + off_db, min(floor + tail_db, level - tail_rel))
                speech = e > go_on and e > peak + pk_off
                faded = not speech and (level == 0.0 or min(floor + tail_db, level - tail_rel)
                                        <= floor + off_db)
            elif noise:
                speech = False
            else:
                speech = bool(w) and e > floor + on_db and e > peak + pk_on
        if e <= floor + off_db:
            noise = False
        clear = bool(speech and v and e > peak + pk_on)  # the level learns from these
        goes_on = ev_hold > 0 and any(evid[-ev_hold:])
        frac = ev_frac if goes_on else ev_frac_new
        ev = clear and (level == 0.0 or e > floor + frac * (level - floor))
        if clear:
            if level == 0.0:
                level = e
            elif e > level:
                level += level_step * level_q
            else:
                level -= level_step * (1 - level_q)
        if speech:
            if v:
                unvoiced, pend = 0, []
            else:
                pend.append(b)
                unvoiced += 1
                if unvoiced >= max_uv:
                    for x in pend[:-1]:
                        add(x)
                    speech = False
                    noise = True
        if not speech:
            unvoiced, pend = 0, []
            add(b)
        in_speech = speech
        if speech:
            masked_left = 0
            run += 1
        elif (faded and level != 0.0 and m_slope > 0 and run >= m_run
              and len(hist_frames) >= MASK_MIN_FILL):
            h = (max(floor + off_db, peak + pk_off) - (level - m_range)) / m_slope
            masked_left = int(min(m_max, max(0.0, math.floor(h + 0.5))))
        if not speech:
            run = 0
        extended = not speech and masked_left > 0
        if extended:
            masked_left -= 1
        out.append(speech or extended)
        evid.append(ev)
        loud.append(out[-1] and level_before != 0.0 and e > level_before - loud_db)
        # over the background, and louder than the frame before (a rise)
        over.append((e > floor + off_db and e > peak + pk_on and e > ABS_FLOOR_DB, e > prev_e))
        prev_e = e
    lead = [0] * len(out)
    for i in range(1, len(out)):
        if out[i] and not out[i - 1]:
            j = i - 1  # back over the rise: frames over the background, each louder than the last
            while j >= 0 and not out[j] and over[j][0]:
                j -= 1
                if not over[j + 1][1]:  # not louder than the frame before it: the rise starts here
                    break
            lead[i] = min(i - 1 - j, lead_max)
    return out, evid, lead, floor_of(), level, loud


def _vad_inputs(rng, n):
    e, on = _random_energy(rng, n)
    web = on ^ (rng.random(n) < 0.1)
    voiced = on & (rng.random(n) < 0.6)
    per = rng.random(n).astype(np.float32)
    return e, web, voiced, per


@pytest.mark.parametrize("seed", range(8))
def test_vad_hysteresis_matches_reference_across_splits(seed):
    from prosync.native import vad as kv

    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(50, 1500))
    e, web, voiced, per = _vad_inputs(rng, n)
    per_min = float(rng.choice([0.5, 1.01]))
    on, off, vdb = [(9.0, 4.0, 3.0), (12.0, 6.0, 0.0), (6.0, 6.0, 6.0), (9.0, 2.0, 3.0)][seed % 4]
    q = float(rng.choice([0.1, 0.2, 0.5]))
    max_uv = int(rng.integers(3, 40))
    rel = float(rng.choice([20.0, 35.0, 1000.0]))
    window = int(rng.choice([5, 50, 300]))
    q_hi = float(rng.choice([0.5, 0.9, 1.0]))
    pk_on, pk_off = [(3.0, 0.0), (-100.0, -100.0), (6.0, 3.0), (0.0, -2.0)][seed // 2 % 4]
    m_range, m_slope, m_max, m_run = [(45.0, 5.0, 15, 8), (45.0, 0.0, 15, 0), (30.0, 2.0, 40, 0),
                                      (60.0, 10.0, 3, 3)][seed % 4]
    lead_max = [10, 0, 3, 50][seed % 4]
    loud_db = [20.0, 5.0, 0.0, 60.0][seed // 2 % 4]
    tail_db, tail_rel = [(12.0, 30.0), (0.0, 0.0), (10.0, 5.0), (20.0, 60.0)][seed % 4]
    ev_frac, ev_frac_new, ev_hold = [(0.5, 0.5, 0), (0.5, 0.7, 30), (0.0, 0.9, 1),
                                     (0.9, 0.3, 200)][seed // 2 % 4]
    want, want_ev, want_lead, want_floor, want_level, want_loud = vad_hysteresis_ref(
        e, web, voiced, per, on, off, vdb, q, max_uv, rel, 0.5, 0.5, window, per_min, q_hi, pk_on,
        pk_off, m_range, m_slope, m_max, m_run, lead_max, loud_db, tail_db, tail_rel, ev_frac,
        ev_frac_new, ev_hold)
    prm = np.zeros(kv.N_VAD_PARAMS)
    prm[[kv.P_ON_DB, kv.P_OFF_DB, kv.P_VOICED_DB, kv.P_FLOOR_Q, kv.P_MAX_UNVOICED, kv.P_REL_DB,
         kv.P_LEVEL_Q, kv.P_LEVEL_STEP, kv.P_PERIODIC, kv.P_PEAK_Q, kv.P_PEAK_ON_DB,
         kv.P_PEAK_OFF_DB, kv.P_MASK_RANGE_DB, kv.P_MASK_SLOPE_DB, kv.P_MASK_MAX,
         kv.P_MASK_MIN_RUN, kv.P_LEAD_MAX, kv.P_LOUD_DB, kv.P_TAIL_DB, kv.P_TAIL_REL_DB,
         kv.P_EVID_FRAC, kv.P_EVID_FRAC_NEW, kv.P_EVID_HOLD]] = [
             on, off, vdb, q, max_uv, rel, 0.5, 0.5, per_min, q_hi, pk_on, pk_off, m_range, m_slope,
             m_max, m_run, lead_max, loud_db, tail_db, tail_rel, ev_frac, ev_frac_new, ev_hold]
    st = np.zeros(kv.N_VAD_STATE)
    ring = np.zeros(window, np.int32)
    hist = np.zeros(kv.HIST_BINS, np.int32)
    pend = np.zeros(max_uv, np.int32)
    got, got_ev, got_lead = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, np.int16)
    got_loud = np.zeros(n, bool)
    cuts = [0, *sorted(rng.choice(np.arange(1, n), size=6, replace=False)), n]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        out, ev, ld = np.zeros(b - a + 2, bool), np.zeros(b - a + 2, bool), np.zeros(b - a + 2,
                                                                                    np.int16)
        lo = np.zeros(b - a + 2, bool)
        kv.vad_hysteresis(e[a:b], web[a:b], voiced[a:b], per[a:b], b - a, prm, st, ring, hist,
                          pend, out, ev, ld, lo)
        got[a:b], got_ev[a:b], got_lead[a:b] = out[:b - a], ev[:b - a], ld[:b - a]
        got_loud[a:b] = lo[:b - a]
    assert got.tolist() == want
    assert got_ev.tolist() == want_ev
    assert got_lead.tolist() == want_lead
    assert got_loud.tolist() == want_loud
    assert st[kv.S_FLOOR] == pytest.approx(want_floor)
    assert st[kv.S_LEVEL] == pytest.approx(want_level)


def _hyst(e, web, voiced, on=9.0, off=4.0, vdb=3.0, q=0.2, max_uv=30, rel=35.0, window=300,
          per=None, per_min=0.5, q_hi=0.9, pk_on=-100.0, pk_off=-100.0, m_slope=0.0, m_run=0,
          lead_max=0, ev_frac=0.5, ev_frac_new=0.5, ev_hold=0, full=False):
    from prosync.native import vad as kv

    e = np.asarray(e, np.float32)
    prm = np.zeros(kv.N_VAD_PARAMS)
    prm[[kv.P_ON_DB, kv.P_OFF_DB, kv.P_VOICED_DB, kv.P_FLOOR_Q, kv.P_MAX_UNVOICED, kv.P_REL_DB,
         kv.P_LEVEL_Q, kv.P_LEVEL_STEP, kv.P_PERIODIC, kv.P_PEAK_Q, kv.P_PEAK_ON_DB,
         kv.P_PEAK_OFF_DB, kv.P_MASK_RANGE_DB, kv.P_MASK_SLOPE_DB, kv.P_MASK_MAX,
         kv.P_MASK_MIN_RUN, kv.P_LEAD_MAX, kv.P_LOUD_DB, kv.P_EVID_FRAC, kv.P_EVID_FRAC_NEW,
         kv.P_EVID_HOLD]] = [
             on, off, vdb, q, max_uv, rel, 0.5, 0.5, per_min, q_hi, pk_on, pk_off, 45.0, m_slope, 15,
             m_run, lead_max, 20.0, ev_frac, ev_frac_new, ev_hold]
    per = np.zeros(e.shape[0], np.float32) if per is None else np.asarray(per, np.float32)
    out = np.zeros(e.shape[0], bool)
    ev = np.zeros(e.shape[0], bool)
    lead = np.zeros(e.shape[0], np.int16)
    st = np.zeros(kv.N_VAD_STATE)
    kv.vad_hysteresis(e, np.asarray(web, bool), np.asarray(voiced, bool), per, e.shape[0], prm, st,
                      np.zeros(window, np.int32), np.zeros(kv.HIST_BINS, np.int32),
                      np.zeros(max_uv, np.int32), out, ev, lead, np.zeros(e.shape[0], bool))
    if full:
        return out, st, ev, lead
    return out, st


def test_hysteresis_keeps_a_quiet_tail_and_a_voiced_one():
    # onset needs floor + 9 dB and webrtcvad; the tail goes on down to floor + 4 dB; a voiced
    # frame only needs floor + 3 dB
    e = [-70.0] * 20 + [-40.0] * 10 + [-64.0] * 5 + [-65.5] * 3 + [-66.5] * 2 + [-70.0] * 10
    web = [False] * 20 + [True] * 10 + [False] * 20
    voiced = [False] * 20 + [True] * 10 + [False] * 8 + [True] * 2 + [False] * 10
    out, st = _hyst(e, web, voiced)
    assert out.tolist() == [False] * 20 + [True] * 20 + [False] * 10
    assert st[0] == 0  # not in speech at the end


def test_hysteresis_decides_the_same_on_a_recorder_25_db_quieter():
    """Level invariance: the decision rides on the tracked floor and level, not on dBFS. With the
    absolute gate at -75 dBFS the tail of the test above (floor + 4-6 dB), 25 dB down at -89 to
    -91 dB, was cut."""
    e = [-70.0] * 20 + [-40.0] * 10 + [-64.0] * 5 + [-65.5] * 3 + [-66.5] * 2 + [-70.0] * 10
    web = [False] * 20 + [True] * 10 + [False] * 20
    voiced = [False] * 20 + [True] * 10 + [False] * 8 + [True] * 2 + [False] * 10
    out, _ = _hyst(e, web, voiced)
    quiet, _ = _hyst([v - 25.0 for v in e], web, voiced)
    assert out[30:40].all() and quiet.tolist() == out.tolist()


def test_hysteresis_floor_is_a_percentile_not_the_minimum():
    # room tone around -60 dB with dips to -70: a minimum tracker sits at -70 and lets -61 dB
    # lip noise through a 9 dB margin; the 20th percentile (-60.5 dB) does not
    rng = np.random.default_rng(1)
    e = np.full(400, -60.0, np.float32) + rng.normal(0, 0.3, 400).astype(np.float32)
    e[::10] = -70.0
    e[300:305] = -55.0  # lip noise, webrtcvad says speech
    web = np.zeros(400, bool)
    web[300:305] = True
    out, st = _hyst(e, web, np.zeros(400, bool))
    assert not out.any()
    assert -61.0 <= st[5] <= -60.0


def test_hysteresis_onset_and_tail_clear_the_noise_peaks():
    # fluctuating room tone: most frames near -60 dB, one in five up to -52 dB. A -50 dB
    # rustle clears the floor (20th percentile) by 10 dB but its peaks (90th) by 2 dB only: no
    # onset. Speech at -30 dB starts; its tail goes on while above the peaks (with
    # peak_off_db = 0), not down to floor + 4 dB where the room tone itself sits
    rng = np.random.default_rng(3)
    e = np.full(500, -60.0, np.float32) + rng.normal(0, 0.3, 500).astype(np.float32)
    e[::5] = -52.0
    e[300:305] = -50.0
    e[400:420] = -30.0
    e[420:430] = -51.5  # a tail above the peaks: speech
    e[430:440] = -54.0  # above floor + 4, under the peaks: not
    web = np.zeros(500, bool)
    web[300:305] = web[400:440] = True
    out, _ = _hyst(e, web, np.zeros(500, bool), max_uv=50, pk_on=3.0, pk_off=0.0)
    assert not out[:400].any()
    assert out[400:430].all() and not out[430:].any()
    old, _ = _hyst(e, web, np.zeros(500, bool), max_uv=50)  # the floor alone: the rustle and tail are speech
    assert old[300:305].all() and old[430:440].all()


def test_hysteresis_tail_masked_by_noise_goes_on_under_it():
    # speech at -20 dB (voiced) ends by falling into noise at -40 dB: at 5 dB per frame a tail
    # takes (-36 - (-20 - 45)) / 5 = 5.8 -> 6 frames to reach 45 dB under the level; in a quiet
    # room (-80 dB) the floor margin lies under that already and nothing is added; a blip of 3
    # frames (under m_run = 8) is not extended
    def run(floor_db, n_speech):
        e = [floor_db] * 100 + [-20.0] * n_speech + [floor_db] * 30
        v = [False] * 100 + [True] * n_speech + [False] * 30
        out, _ = _hyst(e, v, v, m_slope=5.0, m_run=8)
        return int(np.flatnonzero(out)[-1]) + 1 - (100 + n_speech)

    assert run(-40.0, 20) == 6
    assert run(-80.0, 20) == 0
    assert run(-40.0, 3) == 0


def test_hysteresis_unvoiced_noise_ends_and_lifts_the_floor():
    # a noise bed switches on 20 dB up: webrtcvad and the margin say speech, no voicing comes;
    # after max_uv frames it is noise and the floor learns it (once 80 % of its window is the
    # new bed, for the 20th percentile)
    e = [-70.0] * 50 + [-50.0] * 300
    out, st = _hyst(e, [True] * 350, [False] * 350, max_uv=30)
    assert out[50:79].all() and not out[79]  # the 30th unvoiced frame ends it
    assert not out[-50:].any()
    assert st[5] == pytest.approx(-50.0, abs=0.5)


def test_hysteresis_breath_under_the_speech_level_is_not_speech():
    # after voiced speech at -20 dB, an unvoiced sound at -60 dB (40 dB down) is not speech,
    # one at -50 dB (30 dB down) is
    e = [-75.0] * 20 + [-20.0] * 10 + [-75.0] * 20 + [-60.0] * 5 + [-75.0] * 20 + [-50.0] * 5
    web = [True] * len(e)
    voiced = [False] * 20 + [True] * 10 + [False] * 50
    out, _ = _hyst(e, web, voiced, rel=35.0)
    assert not out[50:55].any()
    assert out[75:80].all()
    # a periodic sound that far down (a soft "um" the tracker does not call voiced) goes on
    # from speech, but does not start speech by itself
    per = np.zeros(len(e), np.float32)
    per[50:55] = 0.7
    out, _ = _hyst(e, web, voiced, rel=35.0, per=per)
    assert not out[50:55].any()
    e2 = e[:30] + [-60.0] * 5 + e[35:]
    per2 = np.zeros(len(e2), np.float32)
    per2[30:35] = 0.7
    out, _ = _hyst(e2, web, voiced, rel=35.0, per=per2)
    assert out[30:35].all()
    out, _ = _hyst(e2, web, voiced, rel=35.0)
    assert not out[30:35].any()


def test_hysteresis_voiced_noise_at_its_own_peaks_is_no_evidence():
    # babble at -30 dB (floor -35, peaks -30) that the pitch tracker calls voiced: speech by the
    # floor's margin, but no evidence of a voice; a vowel at -15 dB is, and only it sets the level;
    # after it, a voiced bump 4 dB over the peaks but in the lower half of floor..level is not
    rng = np.random.default_rng(5)
    e = (-35.0 + 5.0 * rng.random(400)).astype(np.float32)
    e[300:310] = -29.5  # a voiced murmur at the noise's peaks
    e[350:370] = -15.0  # a vowel
    e[380:384] = -26.0  # over the peaks (-30 + 3), under (-35 - 15) / 2 = -25
    voiced = np.zeros(400, bool)
    voiced[300:310] = voiced[350:370] = voiced[380:384] = True
    out, st, ev, _ = _hyst(e, np.zeros(400, bool), voiced, pk_on=3.0, pk_off=0.0, max_uv=50,
                           full=True)
    assert out[300:310].all() and not ev[300:310].any()
    assert ev[350:370].all()
    assert out[380:384].all() and not ev[380:384].any()
    _, st = _hyst(e[:380], np.zeros(380, bool), voiced[:380], pk_on=3.0, pk_off=0.0, max_uv=50)
    assert st[6] == pytest.approx(-15.0, abs=1.0)  # the level: the vowel's, not the murmur's


def test_hysteresis_evidence_needs_the_upper_part_of_floor_to_level():
    # a voiced murmur 6 dB under the speaker's vowels (floor about -34.5, level -15: about 0.7 of
    # the way from the floor to the level), 100 ms after the vowel: evidence with the upper half
    # (0.5), not with the upper 20 % (0.8) as a voice that starts anew; with the vowel's
    # evidence held 0.3 s, the voice goes on and the upper half applies again
    rng = np.random.default_rng(5)
    e = (-35.0 + 5.0 * rng.random(400)).astype(np.float32)
    e[350:370] = -15.0  # the speaker's vowel: sets the level
    e[380:386] = -21.0  # the murmur
    voiced = np.zeros(400, bool)
    voiced[350:370] = voiced[380:386] = True
    web = np.zeros(400, bool)
    for frac, frac_new, hold, want in ((0.5, 0.5, 0, True), (0.5, 0.8, 0, False),
                                       (0.5, 0.8, 5, False), (0.5, 0.8, 30, True),
                                       (0.8, 0.8, 30, False)):
        out, st, ev, _ = _hyst(e, web, voiced, pk_on=3.0, pk_off=0.0, max_uv=50, ev_frac=frac,
                               ev_frac_new=frac_new, ev_hold=hold, full=True)
        assert ev[350:370].all()
        assert out[380:386].all() and ev[380:386].all() == want and ev[380:386].any() == want


def test_hysteresis_onset_lead_counts_the_rise_before_the_onset():
    # quiet floor at -70 dB; a plateau at -62 (a breath), then the energy rises -61, -58, -55
    # (over floor + 4, no webrtcvad yet) before webrtcvad's onset at -40: the onset frame
    # carries a lead of 4, the rise from the plateau's last frame (capped by lead_max), not the
    # plateau
    e = [-70.0] * 45 + [-62.0] * 5 + [-61.0, -58.0, -55.0] + [-40.0] * 10 + [-70.0] * 20
    web = [False] * 53 + [True] * 10 + [False] * 20
    voiced = [False] * 53 + [True] * 10 + [False] * 20
    out, _, _, lead = _hyst(e, web, voiced, lead_max=10, pk_on=3.0, full=True)
    assert out[53] and not out[52]
    assert lead[53] == 4 and lead.sum() == 4
    _, _, _, lead = _hyst(e, web, voiced, lead_max=2, pk_on=3.0, full=True)
    assert lead[53] == 2


# ----------------------------------------------------------------------------- cross-talk


def channel_correlation_ref(xa, xb, pre, n, hop, win, max_lag, need):
    out = []
    for i in range(n):
        if not need[i]:
            out.append(0.0)
            continue
        end = pre + (i + 1) * hop - max_lag
        a = xa[end - win:end:2].astype(np.float64)
        best = 0.0
        for lag in range(-max_lag, max_lag + 1):
            b = xb[end - win + lag:end + lag:2].astype(np.float64)
            den = math.sqrt(float(a @ a) * float(b @ b))
            if den > 0:
                best = max(best, abs(float(a @ b)) / den)
        out.append(best)
    return np.array(out)


@pytest.mark.parametrize("seed", range(4))
def test_channel_correlation_matches_reference(seed):
    from prosync.native.vad import channel_correlation

    rng = np.random.default_rng(300 + seed)
    hop, win, max_lag = 160, 320, int(rng.integers(0, 81))
    pre = win + 2 * max_lag
    n = int(rng.integers(1, 30))
    xa = rng.standard_normal(pre + n * hop).astype(np.float32)
    xb = rng.standard_normal(pre + n * hop).astype(np.float32)
    xb[:] += 0.8 * np.roll(xa, int(rng.integers(-max_lag, max_lag + 1)))
    xb[pre + hop:pre + 2 * hop] = 0.0 if n > 2 else xb[pre + hop:pre + 2 * hop]
    need = rng.random(n) < 0.7
    out = np.full(n, -1.0)
    channel_correlation(xa, xb, pre, n, hop, win, max_lag, need, out,
                        np.zeros((2, 2 * max_lag + 1)))
    np.testing.assert_allclose(out, channel_correlation_ref(xa, xb, pre, n, hop, win, max_lag,
                                                            need), rtol=1e-7, atol=1e-12)
    # the same bits as summing each lag's terms one by one in time order (numba's float() of a
    # float32 stays float32: products in float32, sums in float64)
    for i in np.flatnonzero(need)[:2]:
        end = pre + (i + 1) * hop - max_lag
        ts = range(end - win, end, 2)
        saa = 0.0
        for t in ts:
            saa += float(xa[t] * xa[t])
        best = 0.0
        for lag in range(-max_lag, max_lag + 1):
            sab = sbb = 0.0
            for t in ts:
                sab += float(xa[t] * xb[t + lag])
                sbb += float(xb[t + lag] * xb[t + lag])
            if sbb > 0.0 and saa > 0.0:
                best = max(best, abs(sab) / math.sqrt(saa * sbb))
        assert out[i] == best


def test_cross_talk_told_from_a_quiet_second_speaker():
    from prosync.native.vad import channel_correlation, remove_cross_talk

    rng = np.random.default_rng(9)
    hop, win, lag = 160, 320, 80
    pre = win + 2 * lag
    n = 20
    t = np.arange(pre + n * hop) / 16000
    voice_a = (np.sin(2 * np.pi * 140 * t) + 0.5 * np.sin(2 * np.pi * 420 * t)
               + 0.1 * rng.standard_normal(t.shape[0])).astype(np.float32)
    voice_b = (np.sin(2 * np.pi * 210 * t + 1.0) + 0.3 * rng.standard_normal(t.shape[0])
               ).astype(np.float32)
    # cross-talk: b's microphone hears a 18 dB down, 2 ms later
    bleed = np.r_[np.zeros(32, np.float32), voice_a[:-32]] * 10 ** (-18 / 20)
    quiet = 10 ** (-20 / 20) * voice_b  # b speaks softly into their own microphone
    for xb, want_b in ((bleed, False), (quiet, True)):
        corr = np.zeros(n)
        channel_correlation(voice_a, xb, pre, n, hop, win, lag, np.ones(n, bool), corr,
                            np.zeros((2, 2 * lag + 1)))
        sa, sb = np.ones(n, bool), np.ones(n, bool)
        ea, eb = np.full(n, -20.0, np.float32), np.full(n, -38.0, np.float32)
        remove_cross_talk(ea, sa, eb, sb, corr, n, 0.5)
        assert sa.all()
        assert (sb == want_b).all(), corr
