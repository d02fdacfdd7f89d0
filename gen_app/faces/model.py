"""Face generator: a compact, attribute-conditional, style-based GAN generator (StyleGAN ideas at DCGAN scale).

(z, attribute labels) -> mapping MLP -> w; a learned 4x4 constant is upsampled to the output resolution by
convolutions whose per-channel scale and shift come from w (AdaIN). The labels (gender, glasses, hair, ...;
see attributes.py) enter the mapping network as summed embeddings, as in conditional StyleGAN2-ADA: they
stop the GAN from dropping whole kinds of faces, and let users ask for one. Unless asked, labels are drawn
from the training faces' joint label distribution (`label_combos`, `label_counts`), so a seed alone fixes
a face. A running mean of w (`w_avg`) gives the truncation trick: w' = w_avg + psi * (w - w_avg), where
psi = 0 yields the "mean face".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, num_layers: int, label_classes: list[int]):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(n, w_dim) for n in label_classes)
        in_dim = z_dim + (w_dim if label_classes else 0)
        layers: list[nn.Module] = []
        for i in range(num_layers):
            linear = nn.Linear(in_dim if i == 0 else w_dim, w_dim)
            # He init and zero bias keep w's spread across z through the stack; PyTorch's default init
            # shrinks the signal each layer until w barely depends on z (and the GAN collapses).
            nn.init.kaiming_normal_(linear.weight, a=0.2)
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(z)
        if self.embeddings:
            embedded = sum(emb(labels[:, i]) for i, emb in enumerate(self.embeddings))
            x = torch.cat([x, pixel_norm(embedded)], dim=1)
        return self.net(x)


class StyledConv(nn.Module):
    """(Upsample) -> 3x3 conv -> instance norm -> style scale/shift from w -> LeakyReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, upsample: bool):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm = nn.InstanceNorm2d(out_channels)
        self.style = nn.Linear(w_dim, 2 * out_channels)
        # Styles start as small z-dependent perturbations of scale 1, shift 0.
        nn.init.normal_(self.style.weight, std=0.5 / math.sqrt(w_dim))
        nn.init.zeros_(self.style.bias)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = self.norm(self.conv(x))
        scale, shift = self.style(w)[:, :, None, None].chunk(2, dim=1)
        return F.leaky_relu(x * (1 + scale) + shift, 0.2)


class FaceGenerator(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="gen_app",
    repo_url="https://github.com/gen-app/gen_app",
    tags=["gan", "image-generation", "faces", "gen_app"],
    license="apache-2.0",
):
    """Maps latents z (N, z_dim) and labels (N, attributes) to RGB images in [-1, 1], shape (N, 3, R, R)."""

    def __init__(
        self,
        resolution: int = 64,
        z_dim: int = 128,
        w_dim: int = 128,
        mapping_layers: int = 4,
        channels: tuple[int, ...] | list[int] = (256, 128, 64, 32, 16),
        attribute_names: list[str] | None = None,
        attribute_classes: list[list[str]] | None = None,
        label_combos: list[list[int]] | None = None,
        label_counts: list[int] | None = None,
    ):
        super().__init__()
        num_blocks = int(math.log2(resolution)) - 2
        if 2 ** (num_blocks + 2) != resolution or len(channels) != num_blocks + 1:
            raise ValueError(f"resolution {resolution} needs {num_blocks + 1} channel widths, got {channels}")
        self.resolution, self.z_dim, self.w_dim = resolution, z_dim, w_dim
        # Two lists, not a dict: config.json is written with sorted keys, which would reorder a dict.
        self.attributes = dict(zip(attribute_names or [], attribute_classes or [], strict=True))
        if self.attributes and not label_combos:
            raise ValueError("a conditional generator needs its label distribution (label_combos)")
        # The joint distribution of labels in the training data: unconditioned samples draw from it.
        self.label_combos = torch.tensor(label_combos or [[]], dtype=torch.long)
        self.label_probs = torch.tensor(label_counts or [1], dtype=torch.float64)
        self.label_probs /= self.label_probs.sum()
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, [len(c) for c in self.attributes.values()])
        self.const = nn.Parameter(torch.randn(1, channels[0], 4, 4))
        convs = [StyledConv(channels[0], channels[0], w_dim, upsample=False)]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            convs += [StyledConv(c_in, c_out, w_dim, upsample=True), StyledConv(c_out, c_out, w_dim, upsample=False)]
        self.convs = nn.ModuleList(convs)
        self.to_rgb = nn.Conv2d(channels[-1], 3, 1)
        # Running mean of w over training, the centre that truncation pulls towards.
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def sample_labels(self, seeds: list[int], overrides: dict[str, int] | None = None) -> torch.Tensor:
        """Labels (N, attributes) for `seeds`, each drawn from the training distribution with a generator of
        its own (independent of the seed's latent); `overrides` fixes chosen attributes to a class index."""
        rows = []
        for seed in seeds:
            draw = torch.Generator().manual_seed(seed + 2**32)  # a stream apart from the latent's
            rows.append(self.label_combos[torch.multinomial(self.label_probs, 1, generator=draw)[0]])
        labels = torch.stack(rows)
        for name, value in (overrides or {}).items():
            labels[:, list(self.attributes).index(name)] = value
        return labels

    def map(self, z: torch.Tensor, labels: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        w = self.mapping(z, labels.to(z.device))
        if psi != 1.0:
            w = torch.lerp(self.w_avg.to(w.dtype), w, psi)
        return w

    def synthesize(self, w: torch.Tensor) -> torch.Tensor:
        x = self.const.expand(w.shape[0], -1, -1, -1)
        for conv in self.convs:
            x = conv(x, w)
        return self.to_rgb(x)

    def forward(self, z: torch.Tensor, labels: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        return self.synthesize(self.map(z, labels, psi))
