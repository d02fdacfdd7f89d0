"""Style-transfer network: one feed-forward CNN for every shipped style, steered by per-style normalisation.

Conditional instance normalisation (Dumoulin, Shlens & Kudlur 2017): all styles share the convolutions; each
style owns only a scale and a shift per normalised channel (about 1.3k numbers). Mixing the styles' scales and
shifts with weights that sum to 1 blends styles, and style 0 is the photo itself (trained to reconstruct its
input), so "strength" is a blend towards style 0.

Layout, chosen for CPU speed (see the model card): the image is folded into 2x2 pixel blocks (pixel unshuffle:
no information lost, a quarter of the positions), one convolution at half resolution, one strided convolution to
quarter resolution, five residual blocks there, nearest-neighbour upsampling with a convolution back to half
resolution, and a last convolution whose 12 channels unfold into 2x2 RGB pixels. The network predicts a change in
logit space: out = sigmoid(logit(photo) + f(photo)); the last convolution starts at zero, so an untrained network
returns the photo for every style.

Input: (N, 3, H, W) RGB in [0, 1], H and W multiples of 4; style weights (N, num_styles), rows summing to 1.
Output: (N, 3, H, W) in (0, 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

MULTIPLE = 4  # H and W must be multiples of this (two halvings)


class ConditionalInstanceNorm(nn.Module):
    def __init__(self, channels: int, num_styles: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(num_styles, channels))
        self.shift = nn.Parameter(torch.zeros(num_styles, channels))

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        # Instance norm with each sample's own scale and shift is batch norm over (1, N*C, H, W): one fused
        # kernel, where F.instance_norm followed by * and + makes three memory passes (this layer is
        # memory-bound on a CPU).
        n, c = x.shape[:2]
        scale, shift = (weights @ self.scale).reshape(n * c), (weights @ self.shift).reshape(n * c)
        flat = x.reshape(1, n * c, *x.shape[2:])
        return F.batch_norm(flat, None, None, scale.to(x.dtype), shift.to(x.dtype), True, 0.0, 1e-5).view_as(x)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, num_styles: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect")
        self.norm1 = ConditionalInstanceNorm(channels, num_styles)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect")
        self.norm2 = ConditionalInstanceNorm(channels, num_styles)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(self.conv1(x), weights), inplace=True)
        return x + self.norm2(self.conv2(h), weights)


class StyleNet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="gen_app",
    tags=["style-transfer", "image-to-image", "gen_app"],
    license="apache-2.0",
):
    def __init__(self, style_ids: list[str], width: int = 32, body_width: int = 48, blocks: int = 5):
        super().__init__()
        if not style_ids or style_ids[0] != "photo":
            raise ValueError("style_ids[0] must be 'photo' (the identity style)")
        self.style_ids = list(style_ids)
        n = len(style_ids)
        # Reflect padding everywhere: zero padding tells the network where the border is, and with instance
        # normalisation it then learns a bright blob at a fixed place in every image (seen in training).
        self.stem = nn.Conv2d(12, width, 3, padding=1, padding_mode="reflect")
        self.stem_norm = ConditionalInstanceNorm(width, n)
        self.down = nn.Conv2d(width, body_width, 3, stride=2, padding=1, padding_mode="reflect")
        self.down_norm = ConditionalInstanceNorm(body_width, n)
        self.body = nn.ModuleList(ResidualBlock(body_width, n) for _ in range(blocks))
        self.up = nn.Conv2d(body_width, width, 3, padding=1, padding_mode="reflect")
        self.up_norm = ConditionalInstanceNorm(width, n)
        self.head = nn.Conv2d(width, 12, 3, padding=1, padding_mode="reflect")
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def num_styles(self) -> int:
        return len(self.style_ids)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.stem_norm(self.stem(F.pixel_unshuffle(x, 2)), weights), inplace=True)
        h = F.relu(self.down_norm(self.down(h), weights), inplace=True)
        for block in self.body:
            h = block(h, weights)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = F.relu(self.up_norm(self.up(h), weights), inplace=True)
        change = F.pixel_shuffle(self.head(h), 2)
        return torch.sigmoid(torch.logit(x.float(), eps=1e-3) + change.float())
