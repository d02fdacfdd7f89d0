"""Neural instrument synthesiser in the DDSP tradition (Engel et al. 2020).

A small network reads a pitch curve (f0), a loudness curve and an instrument embedding, frame by frame (250
frames per second), and drives two differentiable signal-processing blocks written in torch:
- a harmonic oscillator bank: K sinusoids at f0, 2 f0, ... K f0 (those above Nyquist silenced), with an
  overall amplitude and a distribution over harmonics from the network;
- filtered noise: white noise shaped by a time-varying 65-band filter from the network (applied in the STFT
  domain, 128-point FFT, one frame per hop), for breath, bow and attack noise.
The pitch of the output is the f0 given, by construction: the network only shapes the timbre. Instruments are
rows of an embedding table; mixing their weights morphs between them.

forward(f0_hz (N, T), loudness_db (N, T), instrument_weights (N, I)) -> audio (N, T * hop) at sample_rate.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

NOISE_FFT = 128  # 65 filter bands
BANK_CHUNK = 1 << 16  # samples per step of the oscillator bank
SPECTRAL_FFT_SIZES = (2048, 1024, 512, 256, 128, 64)


def spectral_distance(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Multi-scale spectral distance (Engel et al. 2020): the training loss, and the bench's measure. Sum over FFT
    sizes of mean L1 between magnitudes and between log magnitudes; (N, samples) inputs, a scalar out."""
    total = output.new_zeros(())
    for n_fft in SPECTRAL_FFT_SIZES:
        window = torch.hann_window(n_fft, device=output.device)
        spec = [torch.stft(x, n_fft, n_fft // 4, window=window, return_complex=True).abs() for x in (output, target)]
        total = total + (spec[0] - spec[1]).abs().mean()
        total = total + (torch.log(spec[0] + 1e-5) - torch.log(spec[1] + 1e-5)).abs().mean()
    return total


def scaled_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """DDSP's output nonlinearity: positive, with a wide dynamic range (1e-7 .. 2)."""
    return 2 * torch.sigmoid(x) ** math.log(10) + 1e-7


def mlp(inputs: int, width: int, layers: int = 3) -> nn.Sequential:
    blocks: list[nn.Module] = []
    for i in range(layers):
        blocks += [nn.Linear(inputs if i == 0 else width, width), nn.LayerNorm(width), nn.LeakyReLU(0.2)]
    return nn.Sequential(*blocks)


def harmonic_bank(f0: torch.Tensor, amplitudes: torch.Tensor, hop: int, sample_rate: int) -> torch.Tensor:
    """Sum of sinusoids. f0 (N, T) Hz; amplitudes (N, T, K) per harmonic -> (N, T * hop)."""
    n, frames, k = amplitudes.shape
    samples = frames * hop
    f0_up = F.interpolate(f0[:, None], size=samples, mode="linear", align_corners=False)[:, 0]
    amps_up = F.interpolate(amplitudes.transpose(1, 2), size=samples, mode="linear", align_corners=False)
    # Phase accumulates in float64 and wraps, so long notes keep an exact pitch.
    phase = torch.cumsum(2 * math.pi * f0_up.double() / sample_rate, dim=1).remainder(2 * math.pi).float()
    harmonics = torch.arange(1, k + 1, device=f0.device, dtype=torch.float32)
    # In time chunks: the (N, K, samples) product of a few minutes of audio would take gigabytes.
    chunks = [
        (
            torch.sin(phase[:, None, i : i + BANK_CHUNK] * harmonics[None, :, None]) * amps_up[..., i : i + BANK_CHUNK]
        ).sum(1)
        for i in range(0, samples, BANK_CHUNK)
    ]
    return torch.cat(chunks, 1)


def filtered_noise(magnitudes: torch.Tensor, hop: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """White noise shaped by a per-frame filter. magnitudes (N, T, NOISE_FFT // 2 + 1) -> (N, T * hop)."""
    n, frames, _ = magnitudes.shape
    samples = frames * hop
    noise = torch.rand(n, samples, generator=generator, device="cpu").to(magnitudes.device) * 2 - 1
    window = torch.hann_window(NOISE_FFT, device=magnitudes.device)
    spectrum = torch.stft(noise, NOISE_FFT, hop, window=window, center=True, return_complex=True)
    spectrum = spectrum[..., :frames] * magnitudes.transpose(1, 2)
    spectrum = F.pad(spectrum, (0, 1))  # istft with center=True wants frames + 1 for `samples`
    return torch.istft(spectrum, NOISE_FFT, hop, window=window, center=True, length=samples)


class NeuralSynth(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="gen_app",
    tags=["audio", "ddsp", "text-to-audio", "gen_app"],
    license="apache-2.0",
):
    def __init__(
        self,
        instruments: list[str],
        hidden: int = 256,
        harmonics: int = 60,
        embedding: int = 16,
        sample_rate: int = 16_000,
        hop: int = 64,
        typical_loudness_db: list[float] | None = None,
        note_envelopes: dict[str, dict[str, float]] | None = None,
    ):
        super().__init__()
        self.instruments = list(instruments)
        # Median loudness of each instrument's sounding frames in the training data: the level the pipeline plays
        # notes at, and where it moves a hummed clip's loudness to (the network knows only loudness it has heard).
        self.typical_loudness_db = list(typical_loudness_db or [-10.0] * len(instruments))
        # How each instrument shapes a note's loudness (gen_app.audio.score.Envelope fields), fitted to the SoundFont
        # by train/synth/fit_envelopes.py: the app turns notes into loudness curves with it. Not used by forward().
        self.note_envelopes = note_envelopes
        self.sample_rate, self.hop, self.num_harmonics = sample_rate, hop, harmonics
        self.embedding = nn.Linear(len(instruments), embedding, bias=False)  # weights @ table: morphs mix rows
        self.f0_mlp = mlp(1, hidden)
        self.loudness_mlp = mlp(1, hidden)
        self.gru = nn.GRU(2 * hidden + embedding, hidden, batch_first=True)
        self.out_mlp = mlp(hidden + 2 * hidden + embedding, hidden)
        self.to_controls = nn.Linear(hidden, 1 + harmonics + NOISE_FFT // 2 + 1)

    def controls(self, f0_hz: torch.Tensor, loudness_db: torch.Tensor, instrument_weights: torch.Tensor):
        """(overall amplitude (N, T, 1), harmonic amplitudes (N, T, K), noise magnitudes (N, T, 65))."""
        frames = f0_hz.shape[1]
        pitch = (69 + 12 * torch.log2(f0_hz.clamp_min(1.0) / 440)) / 127  # MIDI number / 127
        loud = loudness_db / 80 + 1  # -80..0 dB -> 0..1
        style = self.embedding(instrument_weights)[:, None].expand(-1, frames, -1)
        hidden = torch.cat([self.f0_mlp(pitch[..., None]), self.loudness_mlp(loud[..., None]), style], -1)
        recurrent, _ = self.gru(hidden)
        raw = self.to_controls(self.out_mlp(torch.cat([recurrent, hidden], -1)))
        amplitude = scaled_sigmoid(raw[..., :1])
        distribution = scaled_sigmoid(raw[..., 1 : 1 + self.num_harmonics])
        # Harmonics at or above Nyquist are silenced before normalising (no aliasing).
        k = torch.arange(1, self.num_harmonics + 1, device=f0_hz.device)
        distribution = distribution * (f0_hz[..., None] * k < self.sample_rate / 2)
        distribution = distribution / distribution.sum(-1, keepdim=True).clamp_min(1e-7)
        noise = scaled_sigmoid(raw[..., 1 + self.num_harmonics :] - 5)  # starts quiet
        return amplitude, amplitude * distribution, noise

    def forward(
        self,
        f0_hz: torch.Tensor,
        loudness_db: torch.Tensor,
        instrument_weights: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        _, harmonic_amplitudes, noise = self.controls(f0_hz, loudness_db, instrument_weights)
        return harmonic_bank(f0_hz, harmonic_amplitudes, self.hop, self.sample_rate) + filtered_noise(
            noise, self.hop, generator
        )
