"""Audio features shared by the synthesiser's training, its pipeline and the bench: pitch and loudness curves.

Everything runs at SAMPLE_RATE with one frame every HOP samples (250 frames per second), the DDSP setup.
"""

from __future__ import annotations

import functools

import librosa
import numpy as np

SAMPLE_RATE = 16_000
HOP = 64  # samples per frame: 4 ms
LOUDNESS_FFT = 1024
MIN_DB = -80.0  # loudness floor (silence)


@functools.cache
def _a_weighting(n_fft: int) -> np.ndarray:
    freqs = librosa.fft_frequencies(sr=SAMPLE_RATE, n_fft=n_fft)
    with np.errstate(divide="ignore"):  # the 0 Hz bin: -inf before clipping to min_db
        return librosa.A_weighting(freqs, min_db=MIN_DB).astype(np.float32)[:, None]


def loudness_db(audio: np.ndarray) -> np.ndarray:
    """A-weighted loudness in dB per frame, (len(audio) // HOP,), clipped below at MIN_DB (Engel et al. 2020)."""
    frames = len(audio) // HOP
    spectrum = np.abs(librosa.stft(audio.astype(np.float32), n_fft=LOUDNESS_FFT, hop_length=HOP, center=True))
    power_db = librosa.amplitude_to_db(spectrum, ref=1.0, amin=1e-5, top_db=None) + _a_weighting(LOUDNESS_FFT)
    # Mean of power over frequency, back in dB.
    loud = 10 * np.log10(np.mean(10 ** (power_db / 10), axis=0) + 1e-10)
    return np.maximum(loud, MIN_DB)[:frames].astype(np.float32)


def midi_to_hz(midi: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2 ** ((np.asarray(midi, dtype=np.float64) - 69) / 12)


def hz_to_midi(hz: np.ndarray | float) -> np.ndarray:
    return 69 + 12 * np.log2(np.maximum(np.asarray(hz, dtype=np.float64), 1e-3) / 440.0)


PITCH_LOW_HZ = 65.406  # C2: pyin's pitch grid (10-cent steps from fmin) then has points on every in-tune note
PITCH_HIGH_HZ = 2093.0  # C7


def track_pitch(
    audio: np.ndarray, fmin: float = PITCH_LOW_HZ, fmax: float = PITCH_HIGH_HZ, hop: int = HOP
) -> tuple[np.ndarray, np.ndarray]:
    """(f0 in Hz, voiced probability) per `hop` samples with probabilistic YIN (librosa.pyin); unvoiced frames hold
    the nearest voiced pitch, so a synthesiser glides rather than jumps to an arbitrary value."""
    frames = len(audio) // hop
    f0, voiced, probability = librosa.pyin(
        audio.astype(np.float32),
        fmin=fmin,
        fmax=fmax,
        sr=SAMPLE_RATE,
        frame_length=1024,
        hop_length=hop,
        center=True,
    )
    f0 = f0[:frames]
    probability = np.nan_to_num(probability[:frames])
    known = ~np.isnan(f0)
    if not known.any():
        return np.zeros(frames, np.float32), probability.astype(np.float32)
    index = np.arange(frames)
    filled = np.interp(index, index[known], f0[known])
    return filled.astype(np.float32), probability.astype(np.float32)
