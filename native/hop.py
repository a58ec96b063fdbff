"""One speaker's frames in one call: frame times, energy, webrtcvad, pitch, VAD, nuclei and rate.

:func:`speaker_frames` runs, for ``n`` frames of one speaker, every per-frame kernel the engine
uses, in the order :class:`prosync.engine.speaker.SpeakerTrack` documents, calling the kernels
of :mod:`.frames`, :mod:`.pitch`, :mod:`.vad` and :mod:`.nuclei` (their bodies live there). One
crossing from Python into numba per speaker and push instead of a dozen, and no numpy temporary.

webrtcvad's C entry point ``WebRtcVad_Process`` is called directly, by symbol name: the engine
loads the webrtcvad extension's shared library into LLVM's symbol table first
(:func:`prosync.engine.speaker.vad_library`), and passes the ``VadInst*`` of a
``webrtcvad.Vad`` as an integer, so its state is the one the Python binding would use. Under
``NUMBA_DISABLE_JIT=1`` the engine puts a ``ctypes`` binding of the same function in its place.
"""

import numpy as np
from numba import types

from ._jit import jit
from .bands import band_snr_energy
from .frames import frame_energy_db, to_pcm16
from .nuclei import nuclei_online, running_rate, smooth_intensity
from .pitch import decimate2, refine_f0, track, yin_candidates
from .vad import P_BAND_Q, P_BAND_STEP, apply_hangover, channel_correlation, remove_cross_talk, vad_hysteresis

#: webrtcvad's C function the kernels call: ``int WebRtcVad_Process(VadInst* handle, int fs,
#: const int16_t* audio, size_t length)``: 1 speech, 0 not, -1 bad arguments.
WEBRTC_SYMBOL = "WebRtcVad_Process"
#: Its numba binding; pointers are passed as pointer-sized integers. The symbol must be in LLVM's
#: table before a kernel calling it is compiled or loaded from the cache (an unresolved symbol
#: crashes the process): :func:`prosync.engine.speaker.vad_library` checks it.
webrtc_process = types.ExternalFunction(
    WEBRTC_SYMBOL, types.intc(types.intp, types.intc, types.intp, types.uintp))


@jit
def webrtc_frames(handle, pcm, n, hop, sr, out):
    """webrtcvad's decision on ``n`` consecutive ``hop``-sample frames of ``pcm`` (int16):
    ``out[i]`` True where it returns 1. Returns the number of calls that failed (-1)."""
    bad = 0
    base = pcm.ctypes.data
    for i in range(n):
        r = webrtc_process(handle, sr, base + 2 * i * hop, hop)
        out[i] = r == 1
        if r < 0:
            bad += 1
    return bad


@jit
def speaker_frames(x, c0, n, k0, hop, energy_win, sr, rate_periodicity,
                   pcm, vad_handle,
                   p_h, p_y, p_r, p_d, p_cand, p_cnt, p_edb, p_prm, p_delta, p_nd, p_rtau, p_rbp,
                   p_rf, p_lvl, p_pos, p_geom, y_state,
                   v_prm, v_state, v_ring, v_hist, v_pend, v_blk, v_sos, v_z, v_buf, v_bring,
                   v_bst, v_floors, v_energy,
                   hang_state, hang,
                   soft, r_weights, r_hist, r_pos, r_contour, r_params, r_fstate, r_istate,
                   r_ring, r_head, r_shist, r_win, r_min, out):
    """Fill the columns of ``out`` (the frame records, ``speaker.FRAME_DTYPE``) for frames
    ``k0 .. k0+n-1`` of one speaker: ``t_s``, ``energy_db``, ``webrtc``, ``f0_hz``,
    ``periodicity``, ``voiced``, ``speech_raw``, ``speech_evidence``, ``onset_lead``,
    ``speech_loud``, ``speech``,
    ``nucleus_age``, ``rate_sps``.

    Frame ``i`` is centred on ``x[c0 + i*hop]``. The ``p_*`` arrays are the pitch tracker's
    (:class:`prosync.engine.pitch.PitchTracker`; ``p_geom`` = lag, left, span, tau_min, tau_max,
    win2, ewin2, swin2, win_refine, which it computes once; ``y_state`` (int64[2], zeros when
    fresh) the stream position and length of the decimated signal ``p_y`` holds from the last
    call), ``v_*`` and ``hang*`` the VAD's (``v_blk`` ... ``v_floors``: the band filters of the
    energy the VAD decides on, their state, buffers and floors,
    :func:`.bands.band_snr_energy` with ``v_prm[P_BAND_Q]``, ``v_prm[P_BAND_STEP]``; no band:
    the broadband energy; ``v_energy`` (float64[>= n]) receives that energy),
    ``r_*`` the rate tracker's (:class:`prosync.engine.rate.RateTracker`). Returns the number of
    failed webrtcvad calls (0).
    """
    t_s, energy_db, webrtc, f0 = out["t_s"], out["energy_db"], out["webrtc"], out["f0_hz"]
    periodicity, voiced, speech_raw = out["periodicity"], out["voiced"], out["speech_raw"]
    speech, nucleus_age, rate_sps = out["speech"], out["nucleus_age"], out["rate_sps"]
    for i in range(n):
        t_s[i] = (np.float64(i) + (k0 + 0.5)) / 100.0  # (k + 0.5) / 100: exact ms
    frame_energy_db(x, c0, n, hop, energy_win, energy_db)
    # webrtcvad on each 10 ms hop [c - hop/2, c + hop/2)
    to_pcm16(x, c0 - hop // 2, n * hop, pcm)
    bad = webrtc_frames(vad_handle, pcm, n, hop, sr, webrtc)
    # pitch (PitchTracker.process): frames analysed so far run ``lag`` frames ahead of ``k0``
    lag, left, span = p_geom[0], p_geom[1], p_geom[2]
    hop2 = hop // 2
    a = p_pos[0] - k0
    m = n + lag - a
    start = c0 + a * hop - 2 * left
    ny = (m - 1) * hop2 + span
    # the 8 kHz signal on the grid of the frame centres: the samples the last call decimated
    # (stream positions y_state[0] + 2j, j < y_state[1]) are moved, not decimated again
    s_new = start + (k0 * hop + hop // 2 - c0)  # stream position of x[start]
    keep = 0
    if y_state[1] > 0 and s_new >= y_state[0]:
        shift = (s_new - y_state[0]) // 2
        keep = min(max(y_state[1] - shift, 0), ny)
        for j in range(keep):
            p_y[j] = p_y[shift + j]
    decimate2(x, start + 2 * keep, ny - keep, p_h, p_y[keep:])
    y_state[0] = s_new
    y_state[1] = ny
    yin_candidates(p_y, left, m, hop2, p_geom[5], p_geom[3], p_geom[4], p_geom[6], p_geom[7],
                   p_r, p_d, p_cand[0], p_cand[1], p_cand[2], p_cnt, p_edb, p_cand[3])
    track(p_cand, p_edb, m, a - lag, p_prm, p_delta, p_nd, p_rtau, p_rbp, p_rf, p_lvl, p_pos,
          f0, periodicity, voiced)
    refine_f0(x, c0, n, hop, p_geom[8], float(sr), voiced, f0)
    # raw decision (turn timing) on the band's energy, then the hangover for ``speech``
    if v_sos.shape[0] > 0:
        band_snr_energy(x, c0, n, k0, hop, energy_win, v_blk, v_sos, v_z, v_buf, v_bring,
                        v_bst, v_floors, v_prm[P_BAND_Q], v_prm[P_BAND_STEP], v_energy)
    else:  # the broadband energy, as stored
        for i in range(n):
            v_energy[i] = energy_db[i]
    vad_hysteresis(v_energy, webrtc, voiced, periodicity, n, v_prm, v_state, v_ring, v_hist,
                   v_pend, speech_raw, out["speech_evidence"], out["onset_lead"],
                   out["speech_loud"])
    apply_hangover(speech_raw, n, hang_state, hang, speech)
    # syllable nuclei: voiced by the tracker or strongly periodic (compared in float32, as numpy)
    for i in range(n):
        soft[i] = periodicity[i] > rate_periodicity or voiced[i]
    smooth_intensity(energy_db, n, r_weights, r_hist, r_pos, r_contour)
    nuclei_online(r_contour, soft, n, r_params, r_fstate, r_istate, nucleus_age)
    running_rate(k0, n, nucleus_age, speech, r_ring, r_head, r_shist, r_win, r_min, rate_sps)
    return bad


@jit
def cross_talk(x, pre, pcm_a, pcm_b, n, hop, win, max_lag, corr_min, a, b, need, corr, scratch):
    """Cross-talk removal for ``n`` joined frames of two microphones (frame records ``a``,
    ``b``), in place.

    ``x`` (float32[2, >= pre + n*hop]) holds the channels' last ``pre`` samples; the frames' hop
    samples ``pcm_a``, ``pcm_b`` (``n*hop`` each) are appended after them. Where both channels
    are ``speech`` (``need``), :func:`.vad.channel_correlation` measures the channels' similarity
    (``corr``) and :func:`.vad.remove_cross_talk` drops the quieter channel's ``speech`` and
    ``speech_raw`` flags where it is the other voice's bleed. The last ``pre`` samples move to
    the front for the next frames.
    """
    energy_a, speech_a, raw_a = a["energy_db"], a["speech"], a["speech_raw"]
    energy_b, speech_b, raw_b = b["energy_db"], b["speech"], b["speech_raw"]
    m = n * hop
    any_need = False
    for i in range(n):
        need[i] = speech_a[i] and speech_b[i]
        any_need = any_need or need[i]
    for j in range(m):
        x[0, pre + j] = pcm_a[j]
        x[1, pre + j] = pcm_b[j]
    if any_need:
        channel_correlation(x[0], x[1], pre, n, hop, win, max_lag, need, corr, scratch)
        remove_cross_talk(energy_a, speech_a, energy_b, speech_b, corr, n, corr_min)
        remove_cross_talk(energy_a, raw_a, energy_b, raw_b, corr, n, corr_min)
    for j in range(pre):  # forward copy: the source is always ahead of the destination
        x[0, j] = x[0, m + j]
        x[1, j] = x[1, m + j]

