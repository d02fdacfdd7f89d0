"""A spread-spectrum audio watermark that survives resampling, 16-bit quantisation, excerpts and MP3.

A key-seeded noise block of PERIOD samples, band-limited to BAND (the range MP3 and telephone-grade resampling keep),
is repeated through the whole sound and added at MARK_LEVEL below the sound's local loudness, so it hides under the
music and vanishes in silence. The detector brings a file back to the app's rate, evens out the loudness, folds the
sound modulo PERIOD (every repetition adds its evidence, the music does not line up) and finds the block at any
offset at once by phase-only correlation, so an excerpt cut anywhere works. The p-value is nominal (a Gaussian null,
corrected for the PERIOD offsets searched); "found" uses Z_THRESHOLD, checked on unmarked audio by
bench/provenance.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import resample_poly

from gen_app.provenance.keys import key_seed

# The rate the mark is defined at (its PERIOD and BAND): the audio tab's rate, which a test checks. A constant of its
# own, because the shared layer imports no tab's folder.
SAMPLE_RATE = 16_000

PERIOD = 4096  # samples (0.256 s at 16 kHz): a 3-second excerpt holds 11 repetitions
BAND = (300.0, 4000.0)  # Hz
MARK_LEVEL = 0.01  # the mark's amplitude relative to the sound's local RMS (-40 dB; -26 dB gave z 25-40)
ENVELOPE_SECONDS = 0.02  # the loudness the mark follows
Z_THRESHOLD = 5.5  # "found" at or above this correlation peak (nominal p 8e-5)
MIN_SECONDS = 1.0  # shorter sounds say nothing either way


@dataclass(frozen=True)
class AudioMark:
    found: bool
    z: float
    p_value: float
    seconds: float  # of sound examined, at the app's rate


@lru_cache(maxsize=1)
def band_mask() -> np.ndarray:
    frequency = np.abs(np.fft.fftfreq(PERIOD, 1 / SAMPLE_RATE))
    return ((frequency >= BAND[0]) & (frequency <= BAND[1])).astype(np.float64)


@lru_cache(maxsize=4)
def pattern(key: str | None = None) -> np.ndarray:
    """The key's block: PERIOD samples, in BAND, unit RMS."""
    rng = np.random.default_rng(key_seed("audio", key))
    block = np.real(np.fft.ifft(np.fft.fft(rng.standard_normal(PERIOD)) * band_mask()))
    return block / block.std()


def envelope(audio: np.ndarray) -> np.ndarray:
    """Local RMS over ENVELOPE_SECONDS."""
    width = max(1, round(ENVELOPE_SECONDS * SAMPLE_RATE))
    power = uniform_filter1d(audio.astype(np.float64) ** 2, width, mode="nearest")
    return np.sqrt(np.maximum(power, 0.0))  # the running sum can dip a hair below 0


def embed_audio(audio: np.ndarray, rate: int, key: str | None = None) -> np.ndarray:
    """Mono float audio at SAMPLE_RATE with the mark added (same length, float32, clipped to [-1, 1])."""
    if rate != SAMPLE_RATE:
        raise ValueError(f"the audio watermark is defined at {SAMPLE_RATE} Hz, not {rate} Hz")
    audio = np.asarray(audio, dtype=np.float64)
    mark = np.resize(pattern(key), audio.shape[0]) * envelope(audio) * MARK_LEVEL
    return np.clip(audio + mark, -1.0, 1.0).astype(np.float32)


def to_app_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    """Mono audio resampled to SAMPLE_RATE."""
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        divisor = math.gcd(int(rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // divisor, int(rate) // divisor)
    return np.asarray(audio, dtype=np.float64)


def detect_audio(audio: np.ndarray, rate: int = SAMPLE_RATE, key: str | None = None) -> AudioMark:
    """Look for the mark at every offset in `audio` (mono or (samples, channels)) at `rate` Hz."""
    audio = to_app_rate(np.asarray(audio, dtype=np.float64), rate)
    seconds = audio.shape[0] / SAMPLE_RATE
    usable = audio.shape[0] // PERIOD * PERIOD
    if seconds < MIN_SECONDS or usable == 0:
        return AudioMark(False, 0.0, 1.0, seconds)
    # Even out the loudness (the mark follows it), leaving silence silent, then fold.
    level = envelope(audio)
    flat = audio / np.maximum(level, 1e-4 + 1e-3 * level.max())
    folded = flat[:usable].reshape(-1, PERIOD).sum(axis=0)
    spectrum = np.fft.fft(folded)
    phase = spectrum / np.maximum(np.abs(spectrum), 1e-12) * band_mask()
    reference = np.fft.fft(pattern(key))
    reference = reference / np.maximum(np.abs(reference), 1e-12)
    surface = np.real(np.fft.ifft(phase * np.conj(reference)))
    sigma = math.sqrt(band_mask().sum()) / PERIOD  # unit phasors at random angles (conjugate pairs), in the band
    z = float(surface.max() / sigma)
    p_value = min(1.0, PERIOD * 0.5 * math.erfc(z / math.sqrt(2)))
    return AudioMark(z >= Z_THRESHOLD, z, p_value, seconds)
