"""Face renderer: a neural network that draws a facesjs face from its parameters (see params.py).

parameters -> input embedding e (one learned vector per categorical value, concatenated with the continuous
values) -> MLP -> style w -> an 8x8 layout (a linear map of w plus a learned constant) -> upsampling
convolutions whose per-channel scale and shift come from w (AdaIN, as in StyleGAN) up to half the
output size -> a sub-pixel layer -> RGB in [-1, 1]. Optionally (part_map_channels > 0) a linear map of e straight
to a small feature map, added where the features are part_map_size wide: the part maps.

The layout map gives each position its own weights for every parameter, which suits faces whose parts sit
in fixed places; the styles carry colours and shapes. Morphs interpolate e, so a face can move smoothly
between two sets of parts.

Optionally (part_sprites) the eyes, eyebrows, mouth, nose and the face's lines are then laid over the picture as
learned bitmaps placed by facesjs's own geometry (sprites.py), where cover maps from the last features let them
show.

Why the part maps: without them every part reaches the picture only through w, and the MLP learned to map the
thin parts (noses, eye and smile lines, eye-black, headbands) almost onto "none" — their w moved 1-4% as far as a
hat's — so they were never drawn. A linear path from e gives each part's embedding its own spatial features,
with a gradient from every face that has it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from gen_app.faces.sprites import PartSprites

BASE_RESOLUTION = 8


@dataclass
class SpriteLayer:
    """Faces whose part sprites a renderer lays over its pictures: parameters (N, fields) and, optionally, each
    face's sprite opacity (N,; default 1)."""

    categorical: torch.Tensor
    continuous: torch.Tensor
    opacity: torch.Tensor | None = None


class StyledConv(nn.Module):
    """(Upsample) -> 3x3 conv -> instance norm with the style's scale and shift from w -> LeakyReLU.

    The norm and the style are one fused multiply-add per pixel: on a CPU the elementwise passes cost as much
    as the convolutions, so each one saved is felt."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, upsample: bool):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.style = nn.Linear(w_dim, 2 * out_channels)
        nn.init.normal_(self.style.weight, std=0.5 / math.sqrt(w_dim))  # styles start near scale 1, shift 0
        nn.init.zeros_(self.style.bias)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv(x)
        # Two passes (mean, then mean squared deviation), not torch.var_mean: its one-pass (Welford) loop is 4-6x
        # slower on a CPU, a sixth of a face's time, and no more accurate here (both within float32 rounding of a
        # float64 reference, which the stacked norms amplify alike).
        mean = x.mean(dim=(2, 3), keepdim=True)
        var = (x - mean).square_().mean(dim=(2, 3), keepdim=True)
        scale, shift = self.style(w)[:, :, None, None].chunk(2, dim=1)
        gain = (1 + scale) * torch.rsqrt(var + 1e-5)
        return F.leaky_relu(torch.addcmul(shift - mean * gain, x, gain), 0.2, inplace=True)


class FaceRenderer(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="gen_app",
    repo_url="https://github.com/gen-app/gen_app",
    tags=["image-generation", "faces", "neural-rendering", "gen_app"],
    license="apache-2.0",
):
    """Draws faces: categorical (N, fields) int64 and continuous (N, fields) in [-1, 1] -> (N, 3, R, R)."""

    def __init__(
        self,
        categorical_values: list[list],
        continuous_ranges: list[list[float]],
        resolution: int = 128,
        embed_dim: int = 16,
        w_dim: int = 256,
        mapping_layers: int = 3,
        channels: tuple[int, ...] | list[int] = (128, 128, 64, 32),
        convs_per_block: tuple[int, ...] | list[int] = (2, 2, 2, 2),
        undrawn: dict[str, str] | None = None,
        undrawn_values: dict[str, list] | None = None,
        part_map_channels: int = 0,
        part_map_size: int = 16,
        part_sprites: bool = False,
    ):
        super().__init__()
        # The last block works at half the output resolution; a sub-pixel layer (3x3 conv to 4 RGB values per
        # pixel, then pixel shuffle) draws the full resolution without a costly full-size feature map.
        num_blocks = int(math.log2(resolution // BASE_RESOLUTION))
        if BASE_RESOLUTION * 2**num_blocks != resolution or len(channels) != num_blocks:
            raise ValueError(f"resolution {resolution} needs {num_blocks} channel widths, got {channels}")
        if len(convs_per_block) != num_blocks:
            raise ValueError(f"convs_per_block needs {num_blocks} entries, got {convs_per_block}")
        self.resolution = resolution
        self.categorical_values = categorical_values  # the codec's vocabularies, kept with the weights
        self.continuous_ranges = continuous_ranges
        # Fields these weights do not draw (found by the bench: the same face for every value), each with the value
        # that matches what they draw instead: the app fixes them to it and does not offer them.
        self.undrawn = dict(undrawn or {})
        # Values of a field that these weights do not draw (drawing one does not bring the picture closer to the real
        # face; bench/faces.py finds them): the app never draws them and does not offer them.
        self.undrawn_values = {field: list(values) for field, values in (undrawn_values or {}).items()}
        self.embeddings = nn.ModuleList(nn.Embedding(len(v), embed_dim) for v in categorical_values)
        in_dim = embed_dim * len(categorical_values) + len(continuous_ranges)
        layers: list[nn.Module] = []
        for i in range(mapping_layers):
            layers += [nn.Linear(in_dim if i == 0 else w_dim, w_dim), nn.LeakyReLU(0.2)]
        self.mapping = nn.Sequential(*layers)
        self.layout = nn.Linear(w_dim, channels[0] * BASE_RESOLUTION**2)
        self.const = nn.Parameter(torch.randn(1, channels[0], BASE_RESOLUTION, BASE_RESOLUTION))
        convs, sizes = [], []  # sizes: each convolution's output width (block b works at 8 * 2**b)
        for block, (c_out, repeats) in enumerate(zip(channels, convs_per_block, strict=True)):
            c_in = channels[max(0, block - 1)]
            for r in range(repeats):
                convs.append(StyledConv(c_in if r == 0 else c_out, c_out, w_dim, upsample=block > 0 and r == 0))
                sizes.append(BASE_RESOLUTION * 2**block)
        self.convs = nn.ModuleList(convs)
        self.part_map_channels, self.part_map_size = part_map_channels, part_map_size
        if part_map_channels:
            if part_map_size not in sizes:
                raise ValueError(f"part_map_size {part_map_size}: the features are {sorted(set(sizes))} wide")
            # The part maps join after the first convolution at their size, through a 1x1 convolution that starts
            # at zero: a renderer trained without them draws the same faces until training gives them weight.
            self.part_map_after = sizes.index(part_map_size)
            self.part_maps = nn.Linear(in_dim, part_map_channels * part_map_size**2)
            self.part_mix = nn.Conv2d(part_map_channels, convs[self.part_map_after].conv.out_channels, 1)
            nn.init.zeros_(self.part_mix.weight)
            nn.init.zeros_(self.part_mix.bias)
        self.to_rgb = nn.Sequential(nn.Conv2d(channels[-1], 3 * 4, 3, padding=1), nn.PixelShuffle(2))
        self.part_sprites = part_sprites
        if part_sprites:
            self.sprites = PartSprites(categorical_values, continuous_ranges, resolution)
            # Where hair, glasses or a hat cover the sprites' parts (logits); starts nearly uncovered everywhere.
            self.cover = nn.Sequential(nn.Conv2d(channels[-1], 4, 3, padding=1), nn.PixelShuffle(2))
            # Where the facial hair (or the above) covers the lines drawn before it: eye, smile and misc lines.
            self.line_cover = nn.Sequential(nn.Conv2d(channels[-1], 4, 3, padding=1), nn.PixelShuffle(2))
            for head in (self.cover, self.line_cover):
                nn.init.zeros_(head[0].weight)
                nn.init.constant_(head[0].bias, -3.0)

    def embed(self, categorical: torch.Tensor, continuous: torch.Tensor) -> torch.Tensor:
        """The input embedding e (N, D): the space morphs interpolate in."""
        parts = [emb(categorical[:, i]) for i, emb in enumerate(self.embeddings)]
        return torch.cat([*parts, continuous.to(parts[0].dtype)], dim=1)

    def features(self, e: torch.Tensor) -> torch.Tensor:
        w = self.mapping(e)
        x = self.const + self.layout(w).view(len(w), -1, BASE_RESOLUTION, BASE_RESOLUTION)
        for i, conv in enumerate(self.convs):
            x = conv(x, w)
            if self.part_map_channels and i == self.part_map_after:
                size = self.part_map_size
                x = x + self.part_mix(self.part_maps(e).view(len(e), -1, size, size))
        return x

    def render(self, e: torch.Tensor, sprite_layers: Sequence[SpriteLayer] = ()) -> torch.Tensor:
        """The pictures (N, 3, R, R) for input embeddings `e`. A renderer with part sprites lays over them, in order,
        the sprites of each layer's faces (forward: the faces' own; a morph: both ends' faces, faded across)."""
        x = self.features(e)
        image = self.to_rgb(x)
        if not self.part_sprites:
            return image
        if not sprite_layers:
            raise ValueError("this renderer draws the face's parts and lines as sprites: pass the faces")
        cover = torch.sigmoid(torch.cat([self.line_cover(x), self.cover(x)], dim=1))
        for layer in sprite_layers:
            image = self.sprites(image, cover, layer.categorical, layer.continuous, layer.opacity)
        return image

    def forward(self, categorical: torch.Tensor, continuous: torch.Tensor) -> torch.Tensor:
        return self.render(self.embed(categorical, continuous), [SpriteLayer(categorical, continuous)])
