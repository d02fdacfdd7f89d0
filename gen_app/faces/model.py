"""Face generator: a compact style-based GAN generator (StyleGAN-1 ideas at DCGAN scale).

z (Gaussian) -> mapping MLP -> w; a learned 4x4 constant is upsampled to the output resolution by
convolutions whose per-channel scale and shift come from w (AdaIN). The mapping network makes the
latent space smoother to interpolate, and a running mean of w (`w_avg`) gives the truncation trick:
w' = w_avg + psi * (w - w_avg), where psi = 0 yields the "mean face".
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
    def __init__(self, z_dim: int, w_dim: int, num_layers: int):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(num_layers):
            linear = nn.Linear(z_dim if i == 0 else w_dim, w_dim)
            # He init and zero bias keep w's spread across z through the stack; PyTorch's default init
            # shrinks the signal each layer until w barely depends on z (and the GAN collapses).
            nn.init.kaiming_normal_(linear.weight, a=0.2)
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_norm(z))


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
    """Maps latent vectors z of shape (N, z_dim) to RGB images in [-1, 1] of shape (N, 3, R, R)."""

    def __init__(
        self,
        resolution: int = 64,
        z_dim: int = 128,
        w_dim: int = 128,
        mapping_layers: int = 4,
        channels: tuple[int, ...] | list[int] = (256, 256, 128, 64, 32),
    ):
        super().__init__()
        num_blocks = int(math.log2(resolution)) - 2
        if 2 ** (num_blocks + 2) != resolution or len(channels) != num_blocks + 1:
            raise ValueError(f"resolution {resolution} needs {num_blocks + 1} channel widths, got {channels}")
        self.resolution, self.z_dim, self.w_dim = resolution, z_dim, w_dim
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers)
        self.const = nn.Parameter(torch.randn(1, channels[0], 4, 4))
        convs = [StyledConv(channels[0], channels[0], w_dim, upsample=False)]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            convs += [StyledConv(c_in, c_out, w_dim, upsample=True), StyledConv(c_out, c_out, w_dim, upsample=False)]
        self.convs = nn.ModuleList(convs)
        self.to_rgb = nn.Conv2d(channels[-1], 3, 1)
        # Running mean of w over training, the centre that truncation pulls towards.
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def map(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        w = self.mapping(z)
        if psi != 1.0:
            w = torch.lerp(self.w_avg.to(w.dtype), w, psi)
        return w

    def synthesize(self, w: torch.Tensor) -> torch.Tensor:
        x = self.const.expand(w.shape[0], -1, -1, -1)
        for conv in self.convs:
            x = conv(x, w)
        return self.to_rgb(x)

    def forward(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        return self.synthesize(self.map(z, psi))
