"""When to reply: prosync's end-of-turn signal against Silero endpointing and Smart Turn v3.

Data: every real conversation in ../shared/data with speaker turns: the CANDOR stereo clips
(one speaker per channel, RTTM from the word alignment), the phone call and the 14 AMI excerpts
(mono mixes split by their RTTMs: a speaker's stream is the mix inside their turns, zeros
elsewhere; the "other" stream is the mix inside everybody else's turns). Every speaker is the
user in turn.

Events (from the reference turns): every end of user speech followed by >= 200 ms of user
silence; HOLD if the user speaks next, SHIFT if another speaker starts first. Ends where another
speaker is already talking, and ends with nobody speaking after, are left out (counted).

A policy "fires" when it would let the agent speak. At a HOLD, a fire in
``[end - 0.15 s, user's next start)`` is a false interruption. At a SHIFT, the first fire in
``[end - 0.15 s, min(user's next start, end + 4 s))`` answers it; its latency is
``max(0, fire - end)``, reported uncapped and capped at the other speaker's real start.

Policies, in one run: Pipecat's Silero VAD analyzer (stop 0.2 .. 1.2 s; 0.2 s is Smart Turn's own
VAD, 0.8 s a run of its own; 0.4, 0.6, 1.0, 1.2 replay Pipecat's VAD state machine on the 0.8 s
run's model confidences to save CPU), Pipecat's Smart Turn v3 (see _eot_peers.py), prosync's old
rule (reply when the user's silence reaches the pacing
``reply_delay_ms``) and the new ``turn_end_prob`` at several thresholds, with its two tuned
parameters (``bias``, ``cue_weight``) chosen by leave-one-dataset-out: each dataset's figures come
from parameters tuned on the other two. The cue audit is also read per dataset (close-talk
recordings apart from AMI's far-field mixes, ``_eot_fit.py``) and the timer part's variants are
replayed held out by dataset and by conversation (``_eot_hazard.py``).

    nice -n 5 python bench/bench_end_of_turn.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _eot_events import event_lines, event_rows, fragment_lines  # noqa: E402
from _eot_fit import (  # noqa: E402
    audit_lines,
    close_talk_bullet,
    dataset_audit,
    dataset_audit_lines,
    fit_folds,
    held_out_aucs,
    matched,
    measure_aucs,
)
from _eot_hazard import (  # noqa: E402
    VARIANTS,
    boot_diff,
    hazard_bullet,
    hazard_lines,
    hazard_section,
    timer_points,
    versus,
)
from _eot_report import (  # noqa: E402
    advice_lines,
    curve_lines,
    diagnosis,
    equal_footing,
    fit_lines,
    reading,
    report,
    row,
)
from _shared import ROOT, shared_data  # noqa: E402

import prosync  # noqa: E402
from prosync.engine.config import HOP_S, EndOfTurnConfig  # noqa: E402
from prosync.engine.endofturn import (  # noqa: E402
    EndOfTurnTracker,
    held_frames,
    silence_logit,
)
from prosync.engine.pacing import gap_delay_ms  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "end_of_turn.md"
SR = 16000
BLOCK = 1600
MIN_SILENCE_S = 0.2
TOL_S = 0.15
HORIZON_S = 4.0
SILERO_STOPS = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2)
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: The trade-off curves' finer sweeps: thresholds of turn_end_prob, delays of the plain timer.
CURVE_TH = tuple(round(0.1 + 0.05 * i, 2) for i in range(18))
CURVE_D = tuple(round(0.2 + 0.1 * i, 1) for i in range(19))
#: The fragment gate's candidates: ``fragment_s`` (0 = off; 0.3 s about one syllable, 0.5 s the
#: IPU length the ``ipu`` cue scores 0), ``fragment_wait_s`` fixed at its default.
FRAG_GRID = (0.0, 0.3, 0.5)
GRID_BIAS = (-3.0, -2.5, -2.0, -1.5, -1.0, -0.5)
GRID_W = (0.0, 0.25, 0.5, 0.75, 1.0)
#: The advised reply delay: the user's typical gap, or that gap lengthened when the user seems
#: to hesitate (the rule pacing shipped before: up to HESITATION_MAX_MS).
DELAYS = ("gap", "hesitation")
HESITATION_MAX_MS = 600.0
ADVICE = {"gap": "the user's median gap", "hesitation": "reply_delay_ms with hesitation"}


@dataclass
class Conv:
    name: str
    dataset: str
    user: str
    x_user: np.ndarray      # int16, 16 kHz
    x_other: np.ndarray
    segs_user: list
    segs_other: list
    two_mics: bool


def _rttm(path: Path) -> dict:
    out: dict = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            a = float(f[3])
            out.setdefault(f[1], {}).setdefault(f[7], []).append((a, a + float(f[4])))
    return out


def _mask(x: np.ndarray, segs) -> np.ndarray:
    m = np.zeros(x.shape[0], bool)
    for a, b in segs:
        m[int(round(a * SR)):int(round(b * SR))] = True
    return np.where(m, x, 0).astype(np.int16)


def conversations(data: Path) -> list[Conv]:
    out = []
    cd = data / "candor_mmvap_stereo"
    for clip in ("shift", "hold"):
        x, sr = sf.read(cd / f"{clip}.wav", dtype="int16", always_2d=True)
        assert sr == SR
        segs = _rttm(cd / f"{clip}.rttm")[clip]
        for ch in (0, 1):
            u, o = f"ch{ch}", f"ch{1 - ch}"
            out.append(Conv(f"candor_{clip}", "candor", u, x[:, ch].copy(), x[:, 1 - ch].copy(),
                            segs.get(u, []), segs.get(o, []), True))
    splits = [("phone", data / "pyannote_sample_phonecall" / "sample.wav",
               _rttm(data / "pyannote_sample_phonecall" / "sample.rttm")["sample"])]
    ami = data / "ami_pyannote_debug"
    rt = {**_rttm(ami / "debug.train.rttm"), **_rttm(ami / "debug.development.rttm")}
    for wav in sorted(ami.glob("*.wav")):
        if wav.stem in rt:
            splits.append(("ami", wav, rt[wav.stem]))
    for ds, wav, spk in splits:
        x, sr = sf.read(wav, dtype="float32")
        assert sr == SR
        x = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
        for u in spk:
            others = [s for k, v in spk.items() if k != u for s in v]
            out.append(Conv(f"{ds}_{wav.stem}", ds, u, _mask(x, spk[u]), _mask(x, others),
                            spk[u], others, False))
    return out


def _merge(segs):
    out = []
    for a, b in sorted(segs):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def events(c: Conv, dur: float) -> tuple[list, dict]:
    """HOLD/SHIFT events of the user: (end, kind, user's next start, other's next start)."""
    us, ot = _merge(c.segs_user), _merge(c.segs_other)
    ev, skipped = [], {"other_talking": 0, "nobody_after": 0}
    for i, (_, e) in enumerate(us):
        nu = us[i + 1][0] if i + 1 < len(us) else math.inf
        if nu - e < MIN_SILENCE_S:
            continue
        if any(a < e < b for a, b in ot):
            skipped["other_talking"] += 1
            continue
        no = min((a for a, _ in ot if a >= e), default=math.inf)
        if min(nu, no) >= dur:
            skipped["nobody_after"] += 1
            continue
        ev.append((e, "HOLD" if nu <= no else "SHIFT", nu, no))
    return ev, skipped


def run_prosync(c: Conv) -> dict:
    """prosync's Session over the pair (user, other): the old rule's fires, the silences with
    their cues (for the new signal), and compute time."""
    s = prosync.Session(("user", "other"), sample_rate=SR, two_mics=c.two_mics)
    tr = EndOfTurnTracker(EndOfTurnConfig(), s.baselines["user"], s.config.turns.ipu_bridge_s)
    tr.log = []
    pc = s.config.pacing
    speech, energy, other = [], [], []
    advised = [(0.0, pc.default_reply_delay_ms, pc.default_reply_delay_ms)]
    old_fires = {v: [] for v in DELAYS}
    st = {"sil": 0, "heard": False, "fired": dict.fromkeys(DELAYS, False), "cpu_eot": 0.0}

    def on(upd):
        if "user" in upd.frames and len(upd.frames["user"]):
            fu = upd.frames["user"]
            c0 = time.perf_counter()
            tr.update(fu, upd.frames["other"], len(fu))
            st["cpu_eot"] += time.perf_counter() - c0
            speech.append(fu["speech_raw"].copy())
            energy.append(fu["energy_db"].astype(np.float32))
            fo = upd.frames["other"]
            other.append(np.stack([fo["energy_db"].astype(np.float32),
                                   fo["speech_raw"].astype(np.float32)]))
            for t, sp in zip(fu["t_s"].tolist(), fu["speech"].tolist(), strict=True):
                if sp:
                    st["sil"], st["heard"] = 0, True
                    st["fired"] = dict.fromkeys(DELAYS, False)
                    continue
                st["sil"] += 1
                for i, v in enumerate(DELAYS):
                    if (st["heard"] and not st["fired"][v]
                            and st["sil"] * HOP_S >= advised[-1][1 + i] / 1000 - 1e-9):
                        old_fires[v].append(t + HOP_S / 2)
                        st["fired"][v] = True
        if upd.pacing:
            # the advised delay both ways: the user's typical gap, and that gap lengthened by
            # the hesitation rule (up to HESITATION_MAX_MS, as pacing did before)
            r = upd.pacing[-1]
            b = s.baselines["user"]
            gap = gap_delay_ms(pc, b.fto_median_s, b.n_fto)
            advised.append((r.t_s, gap, min(gap + r.hesitation * HESITATION_MAX_MS,
                                            pc.max_reply_delay_ms)))

    s._on_update = on
    c0 = time.perf_counter()
    n = c.x_user.shape[0]
    for i in range(0, n, BLOCK):
        s.push(0, c.x_user[i:i + BLOCK])
        s.push(1, c.x_other[i:i + BLOCK])
    s.close()
    cpu_all = time.perf_counter() - c0
    sp = np.concatenate(speech) if speech else np.zeros(0, bool)
    return {"old": old_fires["hesitation"], "old_gap": old_fires["gap"], "log": tr.log,
            "speech_raw": sp, "advised": np.asarray(advised), "cpu_session": cpu_all,
            "energy_db": np.concatenate(energy) if energy else np.zeros(0, np.float32),
            "other": np.concatenate(other, axis=1) if other else np.zeros((2, 0), np.float32),
            "cpu_eot": st["cpu_eot"]}


def timer_fires(log, speech_raw, delay_s: float) -> list:
    """prosync's own VAD with a plain silence timer: a fire ``delay_s`` after each end of the
    user's raw speech (the silences the tracker logged) unless the user spoke again first (the
    fair baseline of the new signal: same ears, no cues, no calibration)."""
    m = int(round(delay_s / HOP_S))
    out = []
    for e, *_ in log:
        k = int(round(e / HOP_S))
        if k + m <= speech_raw.shape[0] and not speech_raw[k:k + m].any():
            out.append(e + delay_s)
    return out


def silence_curves(log, speech_raw, cfg: EndOfTurnConfig, terms=None):
    """Per logged silence ``(e, t, p)``: its start (s), the times into it (s, each frame's end
    up to the user's next raw speech or the horizon) and ``turn_end_prob`` there, recomputed
    exactly as EndOfTurnTracker computes it (same cues, same pause calibration); with ``terms``
    (one per logged silence) the cue term is ``cfg.cue_weight * terms[i]`` instead of the
    weighted cue sum (the bench's fitted cue combination, ``_eot_fit.py``). Silences the user
    broke at once are skipped."""
    steps = np.arange(1, int(round(cfg.horizon_s / HOP_S)) + 1) * HOP_S
    plain = replace(cfg, cue_weight=0.0)
    for i, (e, cues, n_p, s_lp, n_end, measures) in enumerate(log):
        k = round(e / HOP_S)
        nxt = np.flatnonzero(speech_raw[k:k + steps.size])
        m = int(nxt[0]) if nxt.size else steps.size
        if m == 0:
            continue
        t = steps[:m]
        if terms is None:
            z = silence_logit(cfg, t, cues, n_p, s_lp, n_end)
        else:
            z = silence_logit(plain, t, cues, n_p, s_lp, n_end) + cfg.cue_weight * terms[i]
        p = 1.0 / (1.0 + np.exp(-z))
        if cfg.fragment_s > 0:  # the fragment gate: measures[5] is the IPU's length
            p[:held_frames(cfg, measures[5])] = 0.0
        yield e, t, p


def new_fires(log, speech_raw, cfg: EndOfTurnConfig, thresholds, terms=None) -> dict:
    """Fire times of the new signal for each threshold (:func:`silence_curves`)."""
    out = {th: [] for th in thresholds}
    for e, t, p in silence_curves(log, speech_raw, cfg, terms):
        for th in thresholds:
            hit = np.flatnonzero(p >= th)
            if hit.size:
                out[th].append(e + t[hit[0]])
    return out


def advice_fires(log, speech_raw, cfg: EndOfTurnConfig, advised, variant: str,
                 detail: list | None = None) -> list:
    """Replies at prosync's advice, as an agent following the docs takes them
    (:meth:`prosync.agent.AgentSession.reply_go`): in each silence of the user, the first frame
    where ``turn_end_prob`` has crossed ``cfg.threshold`` and the silence has reached the
    advised ``reply_delay_ms`` of that moment (``advised``: rows ``(t_s, gap delay, delay with
    hesitation)``; ``variant`` "gap" or "hesitation"). ``detail`` gets ``(fire time, turn_end
    latency, advised delay)`` (s) per fire."""
    col = DELAYS.index(variant) + 1
    t_adv, d_adv = advised[:, 0], advised[:, col] / 1000.0
    out = []
    for e, t, p in silence_curves(log, speech_raw, cfg):
        d = d_adv[np.maximum(np.searchsorted(t_adv, e + t, side="right") - 1, 0)]
        ok = np.flatnonzero((p >= cfg.threshold) & (t >= d - 1e-9))
        if ok.size:
            out.append(e + t[ok[0]])
            if detail is not None:
                detail.append((out[-1], t[np.flatnonzero(p >= cfg.threshold)[0]], d[ok[0]]))
    return out


def advice_detail(runs) -> dict:
    """Per delay variant, at the events' replies (shipped turn_end): whether the advised delay
    or turn_end set the reply's time, and the replies' times."""
    out = {}
    for v in DELAYS:
        d, d_all, times = [], [], []
        for r in runs:
            det: list = []
            f = advice_fires(r["log"], r["speech_raw"], EndOfTurnConfig(), r["advised"], v, det)
            ends = np.array([e[0] for e in r["events"]])
            for (t, lat, delay) in det:
                d_all.append((lat, delay))
                # the fires that answer or interrupt an event
                if ends.size and np.any((t >= ends - TOL_S) & (t < ends + HORIZON_S)):
                    d.append((lat, delay))
            times.append(f)
        out[v] = {"lat_delay": np.array(d).reshape(-1, 2),
                  "lat_delay_all": np.array(d_all).reshape(-1, 2), "fires": times}
    return out


def score(evs, fires, segs=()) -> dict:
    """False interruptions at HOLDs; latency at SHIFTs (uncapped, capped) and share answered;
    fires inside the user's speech (more than 0.15 s before a segment's end)."""
    f = np.sort(np.asarray(fires, float))
    in_speech = sum(int(np.count_nonzero((f > a) & (f < b - TOL_S))) for a, b in segs)
    speech_s = sum(b - a for a, b in segs)
    fi = n_hold = 0
    lat, lat_cap, n_shift = [], [], 0
    for e, kind, nu, no in evs:
        lo = np.searchsorted(f, e - TOL_S)
        if kind == "HOLD":
            n_hold += 1
            fi += int(lo < f.size and f[lo] < nu)
        else:
            n_shift += 1
            if lo < f.size and f[lo] < min(nu, e + HORIZON_S):
                d = max(0.0, f[lo] - e)
                lat.append(d)
                lat_cap.append(min(d, no - e))
    return {"fi": fi, "n_hold": n_hold, "n_shift": n_shift, "lat": lat, "lat_cap": lat_cap,
            "in_speech": in_speech, "speech_s": speech_s}


def collect(convs, quick: bool) -> list[dict]:
    from _eot_peers import silero, silero_replay, smart_turn

    runs = []
    for c in convs:
        dur = c.x_user.shape[0] / SR
        evs, skipped = events(c, dur)
        t0 = time.perf_counter()
        p = run_prosync(c)
        st, sil02, cpu_vad, cpu_st, n_inf, _ = smart_turn(c.x_user)
        sil08, cpu_sil, conf, starts = silero(c.x_user, 0.8)
        sil = {s: silero_replay(c.x_user, conf, s) for s in SILERO_STOPS if s not in (0.2, 0.8)}
        sil.update({0.2: sil02, 0.8: sil08})
        runs.append({"name": c.name, "dataset": c.dataset, "user": c.user, "dur": dur,
                     "segs": _merge(c.segs_user), "silero_starts": starts,
                     "events": evs, "skipped": skipped, "old": p["old"],
                     "old_gap": p["old_gap"], "advised": p["advised"], "log": p["log"],
                     "speech_raw": p["speech_raw"], "energy_db": p["energy_db"],
                     "other": p["other"], "silero": sil, "smart_turn": st,
                     "cpu": {"session": p["cpu_session"], "eot": p["cpu_eot"], "silero": cpu_sil,
                             "st_vad": cpu_vad, "st_model": cpu_st, "st_n": n_inf}})
        print(f"{c.name:>14} {c.user:>9}: {sum(e[1] == 'HOLD' for e in evs):2d} holds "
              f"{sum(e[1] == 'SHIFT' for e in evs):2d} shifts ({time.perf_counter() - t0:.1f} s)",
              flush=True)
    return runs


def pooled(runs, fires_of) -> dict:
    tot = {"fi": 0, "n_hold": 0, "n_shift": 0, "lat": [], "lat_cap": [], "in_speech": 0,
           "speech_s": 0.0}
    for r in runs:
        s = score(r["events"], fires_of(r), r.get("segs", ()))
        for k in tot:
            tot[k] += s[k]
    return tot


def objective(s) -> float:
    """Expected cost of a policy: SHIFT latency (s, capped at 2 s; unanswered = 2 s) plus 2 s
    per false interruption at a HOLD (an interruption costs about as much as a long wait) plus
    2 s per fire inside the user's speech per event."""
    lat = s["lat"] + [2.0] * (s["n_shift"] - len(s["lat"]))
    n_ev = max(1, s["n_hold"] + s["n_shift"])
    return (float(np.mean(np.minimum(lat, 2.0))) + 2.0 * s["fi"] / max(1, s["n_hold"])
            + 2.0 * s["in_speech"] / n_ev)


def tune(runs, base: EndOfTurnConfig, surface: dict | None = None) -> EndOfTurnConfig:
    """The grid point of least :func:`objective` (``surface``, when given, gets every point's)."""
    best = None
    for b in GRID_BIAS:
        for w in GRID_W:
            cfg = replace(base, bias=b, cue_weight=w)
            s = pooled(runs, lambda r, cfg=cfg: new_fires(r["log"], r["speech_raw"], cfg,
                                                          (cfg.threshold,))[cfg.threshold])
            j = objective(s)
            if surface is not None:
                surface[(b, w)] = j
            if best is None or j < best[0] - 1e-9:
                best = (j, cfg)
    return best[1]


def tune_fit(runs, base: EndOfTurnConfig, group: str) -> EndOfTurnConfig:
    """The bias of least :func:`objective` for the fitted cue term of fold ``group``
    (``r["terms"][group]``, weight 1: the logistic regression's own scale)."""
    best = None
    for b in GRID_BIAS:
        cfg = replace(base, bias=b, cue_weight=1.0)
        s = pooled(runs, lambda r, cfg=cfg: new_fires(
            r["log"], r["speech_raw"], cfg, (cfg.threshold,), r["terms"][group])[cfg.threshold])
        j = objective(s)
        if best is None or j < best[0] - 1e-9:
            best = (j, cfg)
    return best[1]


def tune_fragment(runs, base: EndOfTurnConfig) -> EndOfTurnConfig:
    """The fragment gate's ``fragment_s`` of least :func:`objective` on ``runs`` (the shipped
    bias and threshold; a tie keeps the smaller, off first)."""
    best = None
    for fs in FRAG_GRID:
        cfg = replace(base, fragment_s=fs)
        j = objective(pooled(runs, lambda r, cfg=cfg: new_fires(
            r["log"], r["speech_raw"], cfg, (cfg.threshold,))[cfg.threshold]))
        if best is None or j < best[0] - 1e-9:
            best = (j, cfg)
    return best[1]


def fragment_folds(runs, base: EndOfTurnConfig) -> dict:
    """``fragment_s`` held out: per dataset (tuned on the other datasets) and per conversation
    (tuned on the other conversations), and on all runs."""
    out = {"all": tune_fragment(runs, base)}
    for key in ("dataset", "name"):
        out[key] = {g: tune_fragment([r for r in runs if r[key] != g], base)
                    for g in sorted({r[key] for r in runs})}
    return out


def heard_only(runs) -> list[dict]:
    """The runs with only the events whose last user segment Silero's VAD heard (it confirmed a
    speech start inside the segment): the comparison without the peers' deafness."""
    out = []
    for r in runs:
        keep = []
        for ev in r["events"]:
            seg = next((a, b) for a, b in r["segs"] if abs(b - ev[0]) < 1e-9)
            if any(seg[0] - 0.3 <= t <= seg[1] + 0.1 for t in r["silero_starts"]):
                keep.append(ev)
        out.append({**r, "events": keep, "segs": ()})
    return out


def evaluate(runs, fold_cfg: dict, fold_fit: dict | None = None, thresholds=THRESHOLDS,
             delays=SILERO_STOPS, frag: dict | None = None) -> list[dict]:
    """Every policy on ``runs``; the new signal with each run's fold parameters (and, with
    ``fold_fit``, with the fitted cue term of each run's fold; with ``frag``
    (:func:`fragment_folds`), the shipped signal with the fragment gate held out by
    conversation and by dataset)."""
    audio_s = sum(r["dur"] for r in runs)
    cpu = {k: sum(r["cpu"][k] for r in runs) * 1000 / audio_s
           for k in ("session", "eot", "silero", "st_vad", "st_model")}
    rows = [row(f"Silero VAD, stop {s:.1f} s", pooled(runs, lambda r, s=s: r["silero"][s]),
                cpu["silero"]) for s in SILERO_STOPS]
    rows.append(row("Smart Turn v3 (Pipecat default)", pooled(runs, lambda r: r["smart_turn"]),
                    cpu["st_vad"] + cpu["st_model"]))
    rows += [row(f"prosync VAD, silence >= {d:.1f} s", pooled(
        runs, lambda r, d=d: timer_fires(r["log"], r["speech_raw"], d)), cpu["session"])
        for d in delays]
    rows.append(row("prosync old: silence >= reply_delay_ms", pooled(runs, lambda r: r["old"]),
                    cpu["session"]))
    rows.append(row(f"prosync old: silence >= {ADVICE['gap']}",
                    pooled(runs, lambda r: r["old_gap"]), cpu["session"]))
    # what an agent following the docs does (AgentSession.reply_go): turn_end, then the
    # advised delay; turn_end with each run's held-out fold parameters and with the shipped ones
    for v in DELAYS:
        rows.append(row(f"prosync advice: turn_end (held out), then {ADVICE[v]}", pooled(
            runs, lambda r, v=v: advice_fires(r["log"], r["speech_raw"], fold_cfg[r["dataset"]],
                                              r["advised"], v)), cpu["session"]))
        rows.append(row(f"prosync advice: turn_end (shipped), then {ADVICE[v]}", pooled(
            runs, lambda r, v=v: advice_fires(r["log"], r["speech_raw"], EndOfTurnConfig(),
                                              r["advised"], v)), cpu["session"]))
    cache: dict = {}

    def fires(r, th, fit=False):
        key = (id(r), fit)
        if key not in cache:
            ds = r["dataset"]
            cache[key] = (new_fires(r["log"], r["speech_raw"], fold_fit[ds], thresholds,
                                    r["terms"][ds]) if fit else
                          new_fires(r["log"], r["speech_raw"], fold_cfg[ds], thresholds))
        return cache[key][th]

    for th in thresholds:
        rows.append(row(f"prosync turn_end_prob >= {th:.2f}".rstrip("0"),
                        pooled(runs, lambda r, th=th: fires(r, th)), cpu["eot"]))
    shipped = replace(EndOfTurnConfig(), cue_weight=0.0)
    for th in thresholds:
        rows.append(row(f"prosync turn_end_prob, no cues >= {th:.2f}".rstrip("0"), pooled(
            runs, lambda r, th=th: new_fires(r["log"], r["speech_raw"], shipped, (th,))[th]),
            cpu["eot"]))
    for key, lab in (("name", "conversation"), ("dataset", "dataset")):
        if frag is None:
            break
        for th in thresholds:
            rows.append(row(f"prosync turn_end_prob, fragment gate held out by {lab} >= "
                            f"{th:.2f}".rstrip("0"), pooled(runs, lambda r, th=th, key=key: new_fires(
                                r["log"], r["speech_raw"], replace(frag[key][r[key]], threshold=th),
                                (th,))[th]), cpu["eot"]))
    if fold_fit is not None:
        for th in thresholds:
            rows.append(row(f"prosync turn_end_prob, fitted cues >= {th:.2f}".rstrip("0"),
                            pooled(runs, lambda r, th=th: fires(r, th, True)), cpu["eot"]))
    return rows, cpu


def main(argv=None) -> int:
    import pickle

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="CANDOR, the phone call and 3 AMI files")
    ap.add_argument("--reuse", action="store_true", help="reuse the last run's raw results")
    ap.add_argument("--reuse-peers", action="store_true",
                    help="rerun prosync, reuse the last run's Silero and Smart Turn results")
    args = ap.parse_args(argv)
    data = shared_data()
    cache = Path.home() / ".cache" / "prosync" / "bench_end_of_turn.pkl"
    if args.reuse and cache.exists():
        runs = pickle.loads(cache.read_bytes())
    elif args.reuse_peers and cache.exists():
        runs = pickle.loads(cache.read_bytes())
        convs = {(c.name, c.user): c for c in conversations(data)}
        for r in runs:
            p = run_prosync(convs[(r["name"], r["user"])])
            r.update(old=p["old"], old_gap=p["old_gap"], advised=p["advised"], log=p["log"],
                     speech_raw=p["speech_raw"], energy_db=p["energy_db"], other=p["other"])
            r["cpu"].update(session=p["cpu_session"], eot=p["cpu_eot"])
        cache.write_bytes(pickle.dumps(runs))
    else:
        convs = conversations(data)
        if args.quick:
            keep = {"candor_shift", "candor_hold", "phone_sample", "ami_trn00", "ami_trn07",
                    "ami_dev00"}
            convs = [c for c in convs if c.name in keep]
        runs = collect(convs, args.quick)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(runs))
    base = EndOfTurnConfig()
    datasets = sorted({r["dataset"] for r in runs})
    fold = {ds: tune([r for r in runs if r["dataset"] != ds], base) for ds in datasets}
    surface: dict = {}
    all_cfg = tune(runs, base, surface)
    fits = fit_folds(runs, "dataset")
    fold_fit = {ds: tune_fit([r for r in runs if r["dataset"] != ds], base, ds)
                for ds in datasets}
    frag = fragment_folds(runs, base)
    rows, cpu = evaluate(runs, fold, fold_fit, frag=frag)
    per_ds = {ds: evaluate([r for r in runs if r["dataset"] == ds], fold, fold_fit,
                           frag=frag)[0] for ds in datasets}
    heard = evaluate(heard_only(runs), fold, fold_fit, frag=frag)[0]
    curves = (evaluate(runs, fold, fold_fit, CURVE_TH, CURVE_D, frag)[0],
              evaluate(heard_only(runs), fold, fold_fit, CURVE_TH, CURVE_D, frag)[0])
    lines = report(runs, fold, all_cfg, base, datasets, rows, cpu, per_ds, heard,
                   (GRID_BIAS, GRID_W), surface)
    held = held_out_aucs(runs)
    aud = dataset_audit(runs)
    haz = hazard_section(runs, heard_only(runs), pooled, objective, base.horizon_s)
    tims = (timer_points(runs, pooled, timer_fires),
            timer_points(heard_only(runs), pooled, timer_fires))
    extra = (close_talk_bullet(aud),
             hazard_bullet(haz, versus(haz, tims[0], 0), versus(haz, tims[1], 1),
                           {lab: boot_diff(runs, haz, lab, score) for lab in VARIANTS
                            if not lab.startswith("shipped")}))
    lines += reading(base, *curves, held, measure_aucs(runs),
                     sum(len(matched(r)) for r in runs), extra)
    lines += fit_lines(fits, fold_fit)
    lines += curve_lines(*curves)
    lines += equal_footing(runs, heard_only(runs), *curves)
    sys.path.insert(0, str(ROOT / "examples"))
    from agent_loop import run as agent_loop  # the example as its CLI runs it

    lines += advice_lines(*curves, per_ds, advice_detail(runs),
                          agent_loop(None, None, False, False, True))
    lines += audit_lines(runs, held)
    lines += dataset_audit_lines(aud)
    lines += diagnosis(runs, base, heard)
    peer = {r["policy"]: r for r in rows}
    peer_h = {r["policy"]: r for r in heard}
    lines += hazard_lines(haz, *tims, {k: (peer[k], peer_h[k]) for k in (
        "Silero VAD, stop 0.8 s", "Smart Turn v3 (Pipecat default)")})
    lines += fragment_lines(frag, *curves, per_ds, FRAG_GRID)
    shipped = replace(base, cue_weight=0.0)
    fires_of = {
        "prosync 0.5": lambda r: new_fires(r["log"], r["speech_raw"], shipped, (0.5,))[0.5],
        "gate 0.5": lambda r: new_fires(r["log"], r["speech_raw"],
                                        replace(frag["name"][r["name"]], threshold=0.5),
                                        (0.5,))[0.5],
        "Silero 0.8": lambda r: r["silero"][0.8], "Smart Turn": lambda r: r["smart_turn"]}
    lines += event_lines(event_rows(runs, heard_only(runs), fires_of, TOL_S,
                                                         HORIZON_S), list(fires_of))
    if args.reuse or args.reuse_peers:
        lines.insert(3, "(`--reuse`/`--reuse-peers`: the tables recomputed from the cached raw "
                        "results of the last full run (with `--reuse-peers` prosync's part rerun); "
                        "CPU figures of a rerun part come from another run than the peers'.)\n")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(json.dumps({"fold": {k: [v.bias, v.cue_weight] for k, v in fold.items()},
                      "all": [all_cfg.bias, all_cfg.cue_weight]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
