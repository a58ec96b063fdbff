"""The session summary (``summary.json``), built online from the updates with bounded memory.

Shared by every door: ``prosync score`` writes it, the live dashboard and the WebSocket server send
it at the end of a session.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np

from .entrain_null import MIN_EXCHANGES, lh_p, tama_p
from .entrainment import IPU, ipu_features, levitan_hirschberg, tama, turns_from_ipus
from .session_sync import session_note, significant
from .speaker import FRAME_DTYPE
from .synchrony import FEATURES, WINDOW_P_CALIBRATED, WINDOW_P_NOTE

#: Frames kept per speaker to measure IPU features when an IPU becomes final (60 s).
FRAME_MEMORY = 6000
#: A channel peaking below this level (dBFS) is called near-silent: a voice at a working
#: microphone peaks tens of dB higher, a muted or unplugged input stays near the noise floor.
SILENT_DBFS = -60.0
#: A channel with speech in less than this fraction of its frames ...
MIN_SPEECH_FRACTION = 0.01
#: ... over at least this long (s) is reported as having no speech.
MIN_CHECK_S = 5.0
#: Levitan & Hirschberg p-values (calibrated by shifting the responder's turns:
#: :mod:`.entrain_null`) are withheld (null, with a note) below this many turn exchanges.
LH_MIN_PAIRS_P = MIN_EXCHANGES
#: IPU features used for entrainment.
ENTRAINMENT_FEATURES = ("f0_mean_hz", "f0_max_hz", "energy_mean_db", "energy_max_db", "rate_sps")


def _f(v):
    """JSON-safe float: None for NaN."""
    v = float(v)
    return None if not np.isfinite(v) else round(v, 4)


class SessionSummary:
    """Running per-speaker statistics (bounded memory: histograms, counters)."""

    def __init__(self, names):
        self.names = names
        self.n = dict.fromkeys(names, 0)
        self.voiced = dict.fromkeys(names, 0)
        self.speech = dict.fromkeys(names, 0)
        self.nuclei = dict.fromkeys(names, 0)
        # semitone histogram re 1 Hz, 0.1 st bins from 0 to 120 st: exact-enough quantiles
        self.f0_hist = {n: np.zeros(1200, dtype=np.int64) for n in names}
        self.events: dict[str, int] = {}
        self.ftos: list[float] = []
        self.ipus = dict.fromkeys(names, 0)
        self.ipu_time = dict.fromkeys(names, 0.0)
        self.peak = [0.0] * len(names)
        self.clipped = [0] * len(names)
        self.dc = [0.0] * len(names)
        self.samples = [0] * len(names)
        self.crc = [0] * len(names)  # CRC-32 of each source's samples: identical channels
        # the last FRAME_MEMORY frames per speaker, in a ring (raw record bytes)
        self._ring = {n: np.zeros(FRAME_MEMORY, dtype=FRAME_DTYPE) for n in names}
        self._ring_n = dict.fromkeys(names, 0)
        self.ipu_list: list[IPU] = []
        self.sync = {f: {"windows": 0, "r_lag0": 0.0, "n_lag0": 0, "r_peak": 0.0, "abs_r_peak": 0.0,
                         "n_peak": 0, "z": 0.0, "n_z": 0, "significant": 0, "lag_s": 0.0}
                     for f in FEATURES}
        self.last_pacing = None

    def audio(self, i, b):
        if len(b):
            self.peak[i] = max(self.peak[i], float(np.max(np.abs(b))))
            self.clipped[i] += int(np.count_nonzero(np.abs(b) >= 0.999))
            self.dc[i] += float(np.sum(b, dtype=np.float64))
            self.samples[i] += len(b)
            self.crc[i] = zlib.crc32(np.ascontiguousarray(b, np.float32), self.crc[i])

    def update(self, upd):
        for spk, c in upd.frames.items():
            if len(c):
                self._remember(spk, c)
            self.n[spk] += len(c["t_s"])
            v = c["voiced"]
            self.voiced[spk] += int(v.sum())
            self.speech[spk] += int(c["speech"].sum())
            self.nuclei[spk] += int((c["nucleus_age"] >= 0).sum())
            f0 = c["f0_hz"][v & np.isfinite(c["f0_hz"])]
            if f0.size:
                st = np.clip((12 * np.log2(f0) * 10).astype(np.int64), 0, 1199)
                np.add.at(self.f0_hist[spk], st, 1)
        for e in upd.events:
            self.events[e.kind] = self.events.get(e.kind, 0) + 1
            if e.kind == "ipu":
                self.ipus[e.speaker] += 1
                self.ipu_time[e.speaker] += e.end_s - e.start_s
                self.ipu_list.append(self._ipu(e))
            if np.isfinite(e.fto_s):
                self.ftos.append(float(e.fto_s))

        for r in upd.synchrony:
            a = self.sync[r.feature]
            a["windows"] += 1
            if math.isfinite(r.r_lag0):
                a["n_lag0"] += 1
                a["r_lag0"] += r.r_lag0
            if math.isfinite(r.r_peak):
                a["n_peak"] += 1
                a["r_peak"] += r.r_peak
                a["abs_r_peak"] += abs(r.r_peak)
                a["lag_s"] += r.lag_s
            if math.isfinite(r.z):
                a["n_z"] += 1
                a["z"] += r.z
                a["significant"] += r.z > 1.96
        if upd.pacing:
            self.last_pacing = upd.pacing[-1]

    def _remember(self, spk, c) -> None:
        ring, m = self._ring[spk], FRAME_MEMORY
        raw = np.dtype((np.void, FRAME_DTYPE.itemsize))
        c = c[-m:]
        pos = self._ring_n[spk] % m
        k = min(len(c), m - pos)
        ring[pos:pos + k].view(raw)[:] = c[:k].view(raw)
        ring[:len(c) - k].view(raw)[:] = c[k:].view(raw)
        self._ring_n[spk] += len(c)

    def recent_frames(self, spk) -> np.ndarray:
        """The speaker's remembered frames in time order."""
        ring, n, m = self._ring[spk], self._ring_n[spk], FRAME_MEMORY
        if n <= m:
            return ring[:n]
        pos = n % m
        if not pos:
            return ring
        raw = np.dtype((np.void, FRAME_DTYPE.itemsize))
        return np.concatenate([ring[pos:].view(raw), ring[:pos].view(raw)]).view(FRAME_DTYPE)

    def _ipu(self, e) -> IPU:
        """Features of one final IPU from the speaker's recent frames."""
        fr = self.recent_frames(e.speaker)
        feats = dict.fromkeys(ENTRAINMENT_FEATURES, float("nan"))
        if fr is not None and len(fr) and fr["t_s"][0] <= e.start_s + 0.01:
            f = ipu_features(fr["t_s"], fr["f0_hz"], fr["energy_db"], [(e.start_s, e.end_s)],
                             ref_hz=100.0)
            feats["f0_mean_hz"] = float(f.f0_mean_hz[0])
            feats["f0_max_hz"] = float(f.f0_max_hz[0])
            feats["energy_mean_db"] = float(f.energy_mean_db[0])
            feats["energy_max_db"] = float(f.energy_max_db[0])
            age = fr["nucleus_age"]
            tn = fr["t_s"][age >= 0] - age[age >= 0] * 0.01
            dur = e.end_s - e.start_s
            if dur > 0:
                feats["rate_sps"] = float(np.count_nonzero((tn >= e.start_s) & (tn <= e.end_s))
                                          / dur)
        return IPU(e.speaker, float(e.start_s), float(e.end_s), feats)

    def check_audio(self, sources, speakers=None):
        """Warnings about each source's audio: silent or speechless, clipped, DC offset.

        ``speakers`` names the speaker of each source (default: the summary's speakers, when
        there is one per source); a source with a speaker is also checked for speech found.
        """
        if speakers is None and len(sources) == len(self.names):
            speakers = self.names
        warn = []
        shared = len({str(s.path) for s in sources}) < len(sources)  # channels of one file
        for i, s in enumerate(sources):
            where = f"{s.path}" + (f" channel {s.channel + 1}" if s.channel or shared else "")
            if speakers is not None and speakers[i] in self.n:
                name = speakers[i]
                where += f" (speaker {name})"
                speech = self.speech[name] / self.n[name] if self.n[name] else 0.0
                seconds = self.n[name] * 0.01
            else:
                speech, seconds = None, 0.0
            quiet = self._silence(i, speech, seconds)
            if quiet:
                warn.append(f"{where} {quiet}: check that the microphone is not muted and that "
                            "the right file or channel is given")
            if self.samples[i] and self.clipped[i] > 0.001 * self.samples[i]:
                warn.append(f"{where} is clipped ({100 * self.clipped[i] / self.samples[i]:.2f}% "
                            "of samples at full scale): lower the recording gain")
            dc = self.dc[i] / max(self.samples[i], 1)
            if abs(dc) > 0.01:
                warn.append(f"{where} has a DC offset of {dc:+.3f} full scale (removed before "
                            "analysis): check the recorder's input")
        if (len(sources) == 2 and self.samples[0] == self.samples[1] and self.peak[0] > 0.0
                and self.crc[0] == self.crc[1] and self.dc[0] == self.dc[1]):
            what = (f"channels {sources[0].channel + 1} and {sources[1].channel + 1}" if shared
                    else f"it and {sources[1].path}")
            warn.append(f"{sources[0].path}: {what} carry the same audio (one recording copied "
                        "to both?): the two speakers cannot be told apart, and the second reads as "
                        "the first's cross-talk (no speech found); give each speaker's own channel "
                        "or file, or score one channel as a single speaker (channels=1)")
        return warn

    def _silence(self, i: int, speech: float | None, seconds: float) -> str:
        """Why source ``i`` holds no usable speech, or ''.

        Digital silence (every sample 0) and near-silence (peak below :data:`SILENT_DBFS`, far
        under any voice at a working microphone) are named as such; a louder channel in which
        the voice activity detector found speech in under :data:`MIN_SPEECH_FRACTION` of at
        least :data:`MIN_CHECK_S` seconds is reported as speechless.
        """
        n = self.samples[i]
        if not n:
            return ""
        peak = self.peak[i]
        if peak == 0.0:
            return "is digital silence (every sample is 0)"
        db = 20 * math.log10(peak)
        pct = "" if speech is None else f", {100 * speech:.0f}% speech"
        if db < SILENT_DBFS:
            return f"is near-silent (peak {db:.0f} dBFS{pct})"
        if speech is not None and speech < MIN_SPEECH_FRACTION and seconds >= MIN_CHECK_S:
            return f"has no speech found (peak {db:.0f} dBFS{pct})"
        return ""

    def summary(self, total_s, session):
        spk = {}
        for name in self.names:
            h = self.f0_hist[name]
            tot = h.sum()
            if tot:
                cdf = np.cumsum(h) / tot
                q = [(np.searchsorted(cdf, p) + 0.5) / 10 for p in (0.05, 0.5, 0.95)]
                med_hz = 2 ** (q[1] / 12)
                rng = q[2] - q[0]
            else:
                med_hz, rng = float("nan"), float("nan")
            n = max(self.n[name], 1)
            speech_s = self.speech[name] * 0.01
            spk[name] = {
                "frames": self.n[name],
                "voiced_fraction": _f(self.voiced[name] / n),
                "speech_fraction": _f(self.speech[name] / n),
                "speech_s": _f(speech_s),
                "f0_median_hz": _f(med_hz),
                "f0_range_st_5_95": _f(rng),
                "syllables": self.nuclei[name],
                "speech_rate_sps": _f(self.nuclei[name] / total_s) if total_s else None,
                "articulation_rate_sps": _f(self.nuclei[name] / self.ipu_time[name])
                if self.ipu_time[name] else None,
                "ipus": self.ipus[name],
            }
        ftos = np.array(self.ftos)
        sync = {}
        tests = session.session_synchrony() if len(self.names) == 2 else {}
        preset = settings(session.config)["preset"]
        calibrated = preset in WINDOW_P_CALIBRATED
        for f, a in self.sync.items():
            t = tests.get(f)
            sync[f] = {
                "windows": a["windows"],
                "valid_windows": a["n_lag0"],
                "mean_r_lag0": _f(a["r_lag0"] / a["n_lag0"]) if a["n_lag0"] else None,
                "mean_r_peak": _f(a["r_peak"] / a["n_peak"]) if a["n_peak"] else None,
                "mean_abs_r_peak": _f(a["abs_r_peak"] / a["n_peak"]) if a["n_peak"] else None,
                "mean_peak_lag_s": _f(a["lag_s"] / a["n_peak"]) if a["n_peak"] else None,
                "mean_z": _f(a["z"] / a["n_z"]) if a["n_z"] else None,
                "significant_windows": a["significant"] if calibrated else None,
                "significant_fraction": _f(a["significant"] / a["n_z"])
                if a["n_z"] and calibrated else None,
                "window_note": None if calibrated else WINDOW_P_NOTE,
                "reason": None if a["n_lag0"] else self._no_window_reason(a, total_s, session),
                # the session-level test: windows overlap, so their significant share is no test
                "session_r": _f(t.r) if t else None,
                "session_lag_s": _f(t.lag_s) if t else None,
                "session_p": _f(t.p) if t else None,
                "session_r_crit": _f(t.r_crit) if t else None,
                "session_significant": significant(t.p) if t and math.isfinite(t.p) else None,
                "session_note": session_note(t, preset) if t else None,
            }
        return {
            "made_by": made_by(),
            "settings": settings(session.config),
            "duration_s": _f(total_s),
            "lookahead_s": _f(session.lookahead_s),
            "speakers": spk,
            "turn_events": self.events,
            "fto_s": {
                "count": int(ftos.size),
                "median": _f(np.median(ftos)) if ftos.size else None,
                "values": [round(v, 3) for v in ftos.tolist()],
            },
            "synchrony": sync if len(self.names) == 2 else None,
            "entrainment": self.entrainment(total_s) if len(self.names) == 2 else None,
            "pacing_last": _jsonable_row(self.last_pacing),
        }

    def _no_window_reason(self, a: dict, total_s: float, session) -> str:
        """Why a feature has no window with a finite correlation."""
        w = session.config.sync.window_s
        if not a["windows"]:
            return f"too short: {total_s:.1f} s of audio, one window needs {w:g} s"
        silent = [n for n in self.names if self.speech[n] < MIN_SPEECH_FRACTION * max(self.n[n], 1)]
        if silent:
            return f"a silent speaker: no speech found for {', '.join(silent)}"
        return f"no {w:g} s window with enough values from both speakers"

    def entrainment(self, total_s) -> dict:
        """TAMA (20 s frames, 10 s step) and Levitan & Hirschberg over the session's IPUs."""
        out = {"tama": {}, "levitan_hirschberg": {}}
        a, b = self.names
        for feat in ENTRAINMENT_FEATURES:
            try:
                res = tama(self.ipu_list, feat, total_s, speakers=(a, b))
                out["tama"][feat] = {
                    f"{x}_follows_{y}": {"signed": _f(sy.signed), "unsigned": _f(sy.unsigned),
                                         "p": _f(tama_p(res, x, y)), "reason": sy.reason or None}
                    for (x, y), sy in res.synchrony.items()}
            except ValueError as exc:  # too short a session for one frame
                out["tama"][feat] = {"reason": str(exc)}
        # Levitan & Hirschberg on speaker-normalised IPU features (z-scores per speaker, so a
        # low and a high voice can be compared), one direction at a time: pairs in which the
        # responder's turn follows the other's (mixing both directions would correlate high
        # with low voices by construction)
        turns = turns_from_ipus(_zscored(self.ipu_list, ENTRAINMENT_FEATURES))
        for responder, other in ((b, a), (a, b)):
            key = f"{responder}_follows_{other}"
            lh = levitan_hirschberg(turns, ENTRAINMENT_FEATURES, responder=responder)
            out["levitan_hirschberg"][key] = {
                feat: _lh_row(r, lh_p(turns, feat, responder)) for feat, r in lh.items()}
        out["levitan_hirschberg_min_pairs_p"] = LH_MIN_PAIRS_P
        return out


def _lh_row(r, cal: dict) -> dict:
    """One feature's Levitan & Hirschberg statistics with the calibrated p-values ``cal``
    (:func:`.entrain_null.lh_p`: the responder's turns shifted against the partner's; the
    textbook t-test p-values count exchanges as independent and fired on 7-24 % of people who
    never met); below :data:`LH_MIN_PAIRS_P` exchanges the p-values are null and ``p_note``
    says why."""
    n = int(r.synchrony.n)
    return {
        "proximity_t": _f(r.proximity.t), "proximity_p": _f(cal["proximity"]),
        "convergence_r": _f(r.convergence.value), "convergence_p": _f(cal["convergence"]),
        "synchrony_r": _f(r.synchrony.value), "synchrony_p": _f(cal["synchrony"]),
        "pairs": n,
        "p_note": (f"p withheld: {cal['n']} turn exchanges, below the minimum of "
                   f"{LH_MIN_PAIRS_P} for a calibrated p") if cal["n"] < LH_MIN_PAIRS_P else None,
    }


def made_by() -> dict:
    """What made an output and when: prosync and schema versions, the time (UTC)."""
    from datetime import datetime, timezone
    from importlib.metadata import PackageNotFoundError, version

    from .schema import SCHEMA_VERSION

    try:
        v = version("prosync")
    except PackageNotFoundError:  # run from a source tree that was never installed
        v = "unknown"
    return {"prosync_version": v, "schema_version": SCHEMA_VERSION,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def settings(config) -> dict:
    """Every setting of a session: the synchrony preset's name (``custom`` when the settings
    match none) and the whole configuration (windows, lags, thresholds)."""
    from .config import preset_name

    return {"preset": preset_name(config.sync), **config.to_dict()}


def input_files(sources) -> list[dict]:
    """The input files of a session (:class:`~prosync.streams.files.AudioSource`): absolute path,
    the channel used (1-based), duration, sample rate and the file's channel count."""
    import soundfile as sf

    out = []
    for s in sources:
        try:
            channels = sf.info(str(s.path)).channels
        except (RuntimeError, OSError):  # a format soundfile cannot open (read by another decoder)
            channels = None
        out.append({"path": str(Path(s.path).resolve()), "channel": s.channel + 1,
                    "channels": channels, "sample_rate_hz": int(s.sample_rate),
                    "duration_s": round(s.frames / s.sample_rate, 3)})
    return out


def _zscored(ipus: list[IPU], features) -> list[IPU]:
    """The IPUs with each feature z-scored within its speaker (NaN stays NaN)."""
    stats = {}
    for spk in {u.speaker for u in ipus}:
        for f in features:
            v = np.array([u.features.get(f, np.nan) for u in ipus if u.speaker == spk], float)
            v = v[np.isfinite(v)]
            sd = v.std() if v.size > 1 else 0.0
            stats[spk, f] = (v.mean() if v.size else np.nan, sd if sd > 0 else np.nan)
    out = []
    for u in ipus:
        feats = {f: (u.features.get(f, np.nan) - stats[u.speaker, f][0]) / stats[u.speaker, f][1]
                 for f in features}
        out.append(IPU(u.speaker, u.start_s, u.end_s, feats))
    return out


def _jsonable_row(row):
    if row is None:
        return None
    import dataclasses

    return {k: (_f(v) if isinstance(v, float) else v) for k, v in dataclasses.asdict(row).items()}
