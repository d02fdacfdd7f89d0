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

With jpeg_grid, the network is also told where JPEG's block grid lies: a learned per-channel bias for each position
in a 16x16 cell (8x8 luma blocks; with 4:2:0 chroma, a chroma block spans 16x16 pixels) is added after the first
convolution of a JPEG input. A translation-invariant network with a receptive field of a few blocks has to infer
the grid from the artefacts themselves, which noise and texture hide; told it, it can treat a block's edge as an
edge of compression. (Periodic position features for JPEG artefact removal: inference.vc, "Periodic features for
CNNs in JPEG artefact removal"; FBCNN, Jiang et al. 2021, shows what a misplaced grid costs.) The bias starts at
zero, so a network fine-tuned from one without it starts out computing the same thing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

GRID = 16  # pixels per side of the cell JPEG's blocks repeat in (8x8 luma blocks; 4:2:0 chroma blocks span 16x16)
GridOrigin = tuple[int, int] | None  # an input's top-left in its JPEG's grid cell (y, x); None: unknown


class SRNet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="gen_app",
    tags=["super-resolution", "image-to-image", "gen_app"],
    license="apache-2.0",
):
    def __init__(
        self,
        scale: int = 4,
        channels: int = 64,
        num_convs: int = 12,
        jpeg_input: bool = False,
        jpeg_grid: bool = False,
    ):
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
        self.jpeg_grid = jpeg_grid
        if jpeg_grid:
            self.grid_bias = nn.Parameter(torch.zeros(channels, GRID, GRID))
        # Pixels of input each output pixel depends on, either side (for tiling without seams).
        self.receptive_radius = num_convs + 2 + 2  # convs, plus bicubic's 2-pixel support

    def forward(
        self,
        x: torch.Tensor,
        jpeg_quality: int | None | list[int | None] = None,
        grid: GridOrigin | list[GridOrigin] = (0, 0),
    ) -> torch.Tensor:
        """`jpeg_quality`: the input's JPEG quality (None: not a JPEG), one for the batch or one per image; read
        only by networks with jpeg_input. `grid`: where the input's top-left pixel lies in its JPEG's 16x16 grid
        cell ((0, 0): the file's own top-left; None: unknown, e.g. the file was rotated), one or one per image;
        read only by networks with jpeg_grid, and only for images with a quality."""
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        if not self.jpeg_input and not self.jpeg_grid:
            return base + self.body(x)
        qualities = jpeg_quality if isinstance(jpeg_quality, list) else [jpeg_quality] * len(x)
        biases = None
        if self.jpeg_input:
            biases = self.jpeg_bias(quality_features(qualities).to(x.device, x.dtype)).view(len(x), -1, 1, 1)
        h, layers = x, list(self.body)
        for i, layer in enumerate(layers[:-2]):
            h = layer(h)
            if i % 2 == 1:
                continue
            # A convolution: its bias from the quality (and, for the first, from the grid), before the PReLU.
            width = h.shape[1]
            if biases is not None:
                h = h + biases[:, i // 2 * width : (i // 2 + 1) * width]
            if i == 0 and self.jpeg_grid:
                origins = grid if isinstance(grid, list) else [grid] * len(x)
                h = h + self.grid_map(origins, qualities, h.shape[-2:]).to(h.dtype)
        return base + layers[-1](layers[-2](h))

    def grid_map(self, origins: list[GridOrigin], qualities: list[int | None], size: tuple[int, int]) -> torch.Tensor:
        """(N, channels, H, W): the grid bias at each pixel of each image, zero where the grid is not known."""
        height, width = size
        out = torch.zeros(len(origins), self.grid_bias.shape[0], height, width, device=self.grid_bias.device)
        for n, (origin, quality) in enumerate(zip(origins, qualities, strict=True)):
            if origin is None or quality is None:
                continue
            rows = (origin[0] + torch.arange(height, device=out.device)) % GRID
            cols = (origin[1] + torch.arange(width, device=out.device)) % GRID
            out[n] = self.grid_bias[:, rows][:, :, cols]
        return out


def quality_features(qualities: list[int | None]) -> torch.Tensor:
    """(N, 2) inputs of the quality biases: (is a JPEG, its quality centred on 70 and scaled; 0 for no JPEG)."""
    return torch.tensor([[0.0, 0.0] if q is None else [1.0, (q - 70) / 25] for q in qualities])
