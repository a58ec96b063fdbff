"""Slow, obviously correct reference of the fused per-speaker kernel (``native/hop.py``).

:class:`RefSpeakerTrack` is the engine's :class:`~prosync.engine.speaker.SpeakerTrack` with the
per-frame work done the plain way, one step at a time from Python: numpy for the frame times and
the soft-voiced mask, the Python ``webrtcvad`` binding on each 10 ms hop, and the pitch and rate
trackers' own ``process`` methods. The fused kernel must give the same bits.
"""

from __future__ import annotations

import numpy as np

from prosync.engine.config import HOP, SAMPLE_RATE
from prosync.engine.speaker import BAND_BLOCK, ENERGY_WIN, FRAMES_PER_S, RATE_PERIODICITY, SpeakerTrack
from prosync.native import vad as kv
from prosync.native.bands import band_snr_energy
from prosync.native.frames import frame_energy_db, to_pcm16


class RefSpeakerTrack(SpeakerTrack):
    def _compute(self, k0, c0, n):
        o = self.out  # its columns by name: views
        t = o["t_s"][:n]
        np.add(np.arange(n, dtype=np.float64), k0 + 0.5, out=t)
        np.divide(t, FRAMES_PER_S, out=t)
        x = self._x
        frame_energy_db(x, c0, n, HOP, ENERGY_WIN, o["energy_db"])
        to_pcm16(x, c0 - HOP // 2, n * HOP, self._pcm)
        web = o["webrtc"]
        pcm = self._pcm
        for i in range(n):
            web[i] = self._vad.is_speech(pcm[i * HOP:(i + 1) * HOP].tobytes(), SAMPLE_RATE)
        self.pitch.process(x, c0, n, o["energy_db"], o["f0_hz"], o["periodicity"], o["voiced"])
        ve = self._vad_energy
        if self._vad_sos.shape[0]:
            band_snr_energy(x, c0, n, k0, HOP, ENERGY_WIN, BAND_BLOCK, self._vad_sos,
                            self._vad_z, self._vad_buf, self._vad_bring, self._vad_bst,
                            self._vad_floors,
                            self._vad_prm[kv.P_BAND_Q], self._vad_prm[kv.P_BAND_STEP], ve)
        else:
            ve[:n] = o["energy_db"][:n]
        kv.vad_hysteresis(ve, web, o["voiced"], o["periodicity"], n, self._vad_prm,
                          self._vad_state, self._vad_ring, self._vad_hist, self._vad_pend,
                          o["speech_raw"], o["speech_evidence"], o["onset_lead"],
                          o["speech_loud"])
        kv.apply_hangover(o["speech_raw"], n, self._hang_state, self._hang, o["speech"])
        soft = (o["periodicity"][:n] > RATE_PERIODICITY) | o["voiced"][:n]
        self.rate.process(k0, n, o["energy_db"], soft, o["speech"], o["nucleus_age"],
                          o["rate_sps"])
