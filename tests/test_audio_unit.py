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


def test_downloads_of_a_tune_hold_its_settings_notes_and_abc():
    import json

    import mido
    import soundfile

    from gen_app.audio.downloads import voice_settings, write_downloads
    from gen_app.audio.pipeline import Played, Voice
    from gen_app.audio.score import Note

    audio = (0.5 * np.sin(np.linspace(0, 200 * np.pi, SAMPLE_RATE))).astype(np.float32)
    notes = [Note(0.0, 0.5, 60), Note(0.5, 0.5, 64)]
    played = Played(audio, np.zeros(250, np.float32), np.zeros(250, np.float32), notes)
    params = voice_settings(Voice("flute", "violin", 0.25, 0.5)) | {"seed": 3, "tempo": 90}
    assert params["instrument"] == "flute" and params["morph_to"] == "violin" and params["room"] == 0.5
    wav, midi, abc = write_downloads(played, "tune", params, program=73, abc="M:4/4\nL:1/4\nK:C\nC E |]\n", title="T")
    assert [wav.suffix, midi.suffix, abc.suffix] == [".wav", ".mid", ".abc"] and wav.stem.startswith("tune-")
    with soundfile.SoundFile(wav) as file:
        assert file.samplerate == SAMPLE_RATE and file.subtype == "PCM_16" and file.frames == len(audio)
        assert json.loads(file.copy_metadata()["comment"]) == params
    programs = [m.program for m in mido.MidiFile(midi).tracks[0] if m.type == "program_change"]
    pitches = [m.note for m in mido.MidiFile(midi).tracks[0] if m.type == "note_on" and m.velocity > 0]
    assert programs == [73] and pitches == [60, 64]
    assert abc.read_text(encoding="utf-8").startswith("X:1\nT:T\nM:4/4") and "Q:1/4=90" in abc.read_text()


def test_a_clip_gives_only_its_wav():
    from gen_app.audio.downloads import write_downloads
    from gen_app.audio.pipeline import Played

    played = Played(np.zeros(SAMPLE_RATE // 2, np.float32), np.zeros(125, np.float32), np.zeros(125, np.float32))
    files = write_downloads(played, "revoiced", {"octave_shift": "auto"}, program=40)
    assert [f.suffix for f in files] == [".wav"] and files[0].stat().st_size > SAMPLE_RATE // 2
