"""Audio synthesis building blocks: features, the DDSP oscillator and noise, the synthesiser's shapes."""

import numpy as np
import pytest
import torch

from gen_app.audio.features import HOP, SAMPLE_RATE, hz_to_midi, loudness_db, midi_to_hz
from gen_app.audio.synth import NOISE_FFT, NeuralSynth, filtered_noise, harmonic_bank


def measured_pitch(audio: np.ndarray) -> float:
    """Median YIN f0 of the steady middle of a clip, in Hz."""
    import librosa

    f0 = librosa.yin(audio[len(audio) // 4 : -len(audio) // 4], fmin=60, fmax=2000, sr=SAMPLE_RATE, frame_length=2048)
    return float(np.median(f0))


def test_midi_and_hz_round_trip():
    assert midi_to_hz(69) == pytest.approx(440.0)
    assert hz_to_midi(midi_to_hz(np.array([40.0, 60.5, 90.0]))) == pytest.approx([40.0, 60.5, 90.0])


@pytest.mark.parametrize("hz", [110.0, 261.63, 880.0])
def test_harmonic_bank_plays_the_pitch_it_is_given(hz):
    frames = 250
    amplitudes = torch.zeros(1, frames, 8)
    amplitudes[..., 0], amplitudes[..., 1], amplitudes[..., 2] = 0.3, 0.2, 0.1
    audio = harmonic_bank(torch.full((1, frames), hz), amplitudes, HOP, SAMPLE_RATE)[0].numpy()
    assert audio.shape == (frames * HOP,)
    cents = 1200 * np.log2(measured_pitch(audio) / hz)
    assert abs(cents) <= 10


def test_filtered_noise_follows_its_filter():
    frames = 200
    low = torch.zeros(1, frames, NOISE_FFT // 2 + 1)
    low[..., :8] = 1.0  # only the lowest bands
    audio = filtered_noise(low, HOP, torch.Generator().manual_seed(0))[0].numpy()
    spectrum = np.abs(np.fft.rfft(audio))
    freqs = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    assert spectrum[freqs < 1000].mean() > 10 * spectrum[freqs > 3000].mean()
    silent = filtered_noise(torch.zeros_like(low), HOP)
    assert silent.abs().max() < 1e-6


def test_loudness_tracks_level():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    loud, quiet = loudness_db(0.5 * tone), loudness_db(0.05 * tone)
    assert loud.shape == (SAMPLE_RATE // HOP,)
    assert np.median(loud) - np.median(quiet) == pytest.approx(20, abs=1)
    assert loudness_db(np.zeros(SAMPLE_RATE, np.float32)).max() == -80


def test_synth_output_length_and_instrument_morph():
    synth = NeuralSynth(["violin", "flute"], hidden=32, harmonics=16).eval()
    f0, loud = torch.full((2, 100), 330.0), torch.full((2, 100), -30.0)
    with torch.no_grad():
        audio = synth(f0, loud, torch.tensor([[1.0, 0.0], [0.5, 0.5]]), torch.Generator().manual_seed(0))
    assert audio.shape == (2, 100 * synth.hop) and synth.sample_rate == SAMPLE_RATE
    assert torch.isfinite(audio).all()
    # Harmonics above Nyquist get no amplitude, whatever the network says.
    _, harmonic_amplitudes, _ = synth.controls(torch.full((1, 10), 3000.0), loud[:1, :10], torch.eye(2)[:1])
    assert (harmonic_amplitudes[..., 2:] == 0).all()  # 3 x 3000 Hz >= 8000 Hz
