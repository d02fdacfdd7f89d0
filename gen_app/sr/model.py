"""Super-resolution network: a compact VGG-style CNN that works at the low resolution, then pixel-shuffles.

The design of Real-ESRGAN's "SRVGGNetCompact" (Wang et al. 2021): a stack of 3x3 convolutions with PReLU,
all at the input's resolution (so the cost per output pixel is 1/scale^2 of a network that works at the
output resolution), a last convolution to 3*scale^2 channels, and a pixel shuffle to the output size. We add
the network's output to a bicubic upscale of the input, so it only has to learn the missing detail, and we
zero-initialise the last convolution, so an untrained network is exactly bicubic. Why this and not an
RRDB/EDSR-style net: plain convolutions with no attention, normalisation or dense links run at full speed on
a CPU (oneDNN) and a GPU alike, and it trains on a CPU in about an hour to well past bicubic.

Input and output: (N, 3, H, W) RGB in [0, 1] -> (N, 3, H*scale, W*scale), not clamped (the pipeline clamps).

With jpeg_input, the network is also told the input's JPEG quality (1-100, read from the upload's quantisation
tables; None: not a JPEG file), as FBCNN (Jiang et al. 2021) is: a blind network must guess how much of what it
sees is compression, and treats fine texture in a clean or high-quality file as possible artefacts. The quality
sets a per-channel bias after every convolution; those biases start at zero, so a network fine-tuned from an
unconditioned one starts out computing exactly what that one did.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn


class SRNet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="gen_app",
    tags=["super-resolution", "image-to-image", "gen_app"],
    license="apache-2.0",
):
    def __init__(self, scale: int = 4, channels: int = 64, num_convs: int = 12, jpeg_input: bool = False):
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, got {scale}")
        self.scale = scale
        layers: list[nn.Module] = []
        for i in range(num_convs + 1):
            conv = nn.Conv2d(3 if i == 0 else channels, channels, 3, padding=1)
            # He init for PReLU's starting slope keeps the signal's scale through the stack; PyTorch's default
            # shrinks it every layer, so a deep stack starts with near-zero features and barely trains.
            nn.init.kaiming_normal_(conv.weight, a=0.25, nonlinearity="leaky_relu")
            nn.init.zeros_(conv.bias)
            layers += [conv, nn.PReLU(channels)]
        last = nn.Conv2d(channels, 3 * scale * scale, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        layers += [last, nn.PixelShuffle(scale)]
        self.body = nn.Sequential(*layers)
        self.jpeg_input = jpeg_input
        if jpeg_input:
            self.jpeg_bias = nn.Linear(2, channels * (num_convs + 1))
            nn.init.zeros_(self.jpeg_bias.weight)
            nn.init.zeros_(self.jpeg_bias.bias)
        # Pixels of input each output pixel depends on, either side (for tiling without seams).
        self.receptive_radius = num_convs + 2 + 2  # convs, plus bicubic's 2-pixel support

    def forward(self, x: torch.Tensor, jpeg_quality: int | None | list[int | None] = None) -> torch.Tensor:
        """`jpeg_quality`: the input's JPEG quality (None: not a JPEG), one for the batch or one per image; read
        only by networks with jpeg_input."""
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        if not self.jpeg_input:
            return base + self.body(x)
        qualities = jpeg_quality if isinstance(jpeg_quality, list) else [jpeg_quality] * len(x)
        biases = self.jpeg_bias(quality_features(qualities).to(x.device, x.dtype)).view(len(x), -1, 1, 1)
        h, layers = x, list(self.body)
        for i, layer in enumerate(layers[:-2]):
            h = layer(h)
            if i % 2 == 0:  # a convolution: its bias from the quality, before the PReLU
                width = h.shape[1]
                h = h + biases[:, i // 2 * width : (i // 2 + 1) * width]
        return base + layers[-1](layers[-2](h))


def quality_features(qualities: list[int | None]) -> torch.Tensor:
    """(N, 2) inputs of the quality biases: (is a JPEG, its quality centred on 70 and scaled; 0 for no JPEG)."""
    return torch.tensor([[0.0, 0.0] if q is None else [1.0, (q - 70) / 25] for q in qualities])
