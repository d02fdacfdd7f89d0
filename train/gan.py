"""Adversarial training pieces shared by training scripts (train/sr/finetune.py, train/faces/train_renderer.py).

A pixel or perceptual loss averages what the generator cannot place exactly, so thin lines and fine texture come out
faint or flat; a discriminator that scores every pixel real or fake pulls them back. Used "light": a small weight
beside the supervised losses, which keep the output faithful.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm


class UNetDiscriminator(nn.Module):
    """Real-ESRGAN's UNetDiscriminatorSN: a U-Net (3 downsamplings, skip connections) that outputs a real/fake
    logit per pixel; spectral norm on every convolution but the first and last."""

    def __init__(self, features: int = 32):
        super().__init__()
        f = features
        self.conv0 = nn.Conv2d(3, f, 3, 1, 1)
        self.down = nn.ModuleList(
            [
                spectral_norm(nn.Conv2d(f, f * 2, 4, 2, 1, bias=False)),
                spectral_norm(nn.Conv2d(f * 2, f * 4, 4, 2, 1, bias=False)),
                spectral_norm(nn.Conv2d(f * 4, f * 8, 4, 2, 1, bias=False)),
            ]
        )
        self.up = nn.ModuleList(
            [
                spectral_norm(nn.Conv2d(f * 8, f * 4, 3, 1, 1, bias=False)),
                spectral_norm(nn.Conv2d(f * 4, f * 2, 3, 1, 1, bias=False)),
                spectral_norm(nn.Conv2d(f * 2, f, 3, 1, 1, bias=False)),
            ]
        )
        self.head = nn.Sequential(
            spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False)),
            nn.LeakyReLU(0.2),
            nn.Conv2d(f, 1, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [F.leaky_relu(self.conv0(x), 0.2)]
        for conv in self.down:
            skips.append(F.leaky_relu(conv(skips[-1]), 0.2))
        h = skips.pop()
        for conv in self.up:
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            h = F.leaky_relu(conv(h), 0.2) + skips.pop()
        return self.head(h)


class PatchDiscriminator(nn.Module):
    """pix2pix's PatchGAN (Isola et al. 2017) with spectral norm in place of batch norm: three stride-2 4x4
    convolutions and a 3x3 head, one real/fake logit per ~38-pixel patch. About a tenth of UNetDiscriminator's
    cost at 128 px, which a CPU run needs, and enough to judge lines and edges."""

    def __init__(self, features: int = 32):
        super().__init__()
        f = features
        self.net = nn.Sequential(
            nn.Conv2d(3, f, 4, 2, 1),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(f, f * 2, 4, 2, 1, bias=False)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(f * 2, f * 4, 4, 2, 1, bias=False)),
            nn.LeakyReLU(0.2),
            nn.Conv2d(f * 4, 1, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def generator_loss(disc: nn.Module, fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating loss that pulls the generator's output towards what `disc` calls real (disc not updated)."""
    disc.requires_grad_(False)  # the generator's step must not move the discriminator
    logits = disc(fake).float()
    disc.requires_grad_(True)
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def discriminator_loss(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Real/fake cross-entropy per logit (per pixel or per patch); `fake` is detached: only `disc` learns from it."""
    real_logits, fake_logits = disc(real).float(), disc(fake.detach()).float()
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
