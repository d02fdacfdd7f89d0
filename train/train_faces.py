"""Train the face generator (gen_app/faces/model.py) on facesjs faces.

One command reproduces the shipped checkpoint (see checkpoints/faces/README.md for the exact one):

    python train/build_faces_data.py                      # renders data/faces/*.rgb + *.jsonl
    python train/train_faces.py --steps 6000              # writes checkpoints/faces/
    torchrun --nproc_per_node 2 train/train_faces.py ...  # data-parallel (gloo on CPU, nccl on CUDA)

Training state (both networks, the EMA copy, optimisers, RNG) is saved to --run-dir every --save-every
steps, and a run with the same --run-dir resumes from it. Sample sheets from a fixed set of latents go to
<run-dir>/samples/. The loss is the hinge GAN loss with a spectrally normalised discriminator (Miyato et
al. 2018) and a minibatch-stddev feature (Karras et al. 2018); the shipped weights are an exponential
moving average of the generator's.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gen_app.faces.attributes import ATTRIBUTES, load_labels  # noqa: E402
from gen_app.faces.model import FaceGenerator  # noqa: E402
from gen_app.images import image_grid, tensor_to_pil  # noqa: E402
from train.common import (  # noqa: E402
    RunState,
    finish_export,
    setup_distributed,
    training_record,
    write_training_record,
)
from train.faces_card import write_card  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Discriminator(nn.Module):
    """DCGAN-style discriminator: per level a 3x3 conv then a strided 4x4 conv, spectrally normalised, and a
    projection head for the labels (Miyato & Koyama 2018): score = head(h) + sum over attributes <e(y), h>."""

    def __init__(
        self,
        resolution: int = 64,
        channels: tuple[int, ...] = (32, 64, 128, 256),
        spectral: bool = True,
        label_classes: tuple[int, ...] = (),
    ):
        super().__init__()

        def spectral_norm(module: nn.Module) -> nn.Module:
            return torch.nn.utils.parametrizations.spectral_norm(module) if spectral else module

        if resolution != 4 * 2 ** len(channels):
            raise ValueError(f"resolution {resolution} needs {int(np.log2(resolution)) - 2} levels")
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(3, channels[0], 4, 2, 1)), nn.LeakyReLU(0.2)]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [
                spectral_norm(nn.Conv2d(c_in, c_in, 3, 1, 1)),
                nn.LeakyReLU(0.2),
                spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)),
                nn.LeakyReLU(0.2),
            ]
        self.features = nn.Sequential(*layers)
        c = channels[-1]
        self.final_conv = spectral_norm(nn.Conv2d(c + 1, c, 3, 1, 1))
        self.hidden = nn.Sequential(spectral_norm(nn.Linear(c * 16, c)), nn.LeakyReLU(0.2))
        self.out = spectral_norm(nn.Linear(c, 1))
        self.label_embeddings = nn.ModuleList(spectral_norm(nn.Embedding(n, c)) for n in label_classes)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        # Minibatch stddev (groups of 4): lets the discriminator see a lack of variety, against mode collapse.
        n, c, h, w = x.shape
        group = min(4, n)
        while n % group:
            group -= 1
        std = x.view(group, -1, c, h, w).std(dim=0, unbiased=False).mean(dim=(1, 2, 3))
        std = std.repeat(group).view(n, 1, 1, 1).expand(n, 1, h, w)
        x = F.leaky_relu(self.final_conv(torch.cat([x, std], dim=1)), 0.2)
        h = self.hidden(x.flatten(1))
        score = self.out(h).squeeze(1)
        for i, embedding in enumerate(self.label_embeddings):
            score = score + (embedding(labels[:, i]) * h).sum(dim=1)
        return score


def load_faces(path: Path, resolution: int, limit: int | None = None) -> torch.Tensor:
    """The rendered faces as a uint8 tensor (N, 3, resolution, resolution), downscaled with antialiasing."""
    stored = int(json.loads(path.with_suffix(".json").read_text())["size"])
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, stored, stored, 3)
    if limit:
        raw = raw[:limit]
    out = torch.empty((len(raw), 3, resolution, resolution), dtype=torch.uint8)
    for i in range(0, len(raw), 1024):
        chunk = torch.from_numpy(raw[i : i + 1024]).permute(0, 3, 1, 2).float()
        if stored != resolution:
            chunk = F.interpolate(chunk, size=resolution, mode="bilinear", antialias=True, align_corners=False)
        out[i : i + 1024] = chunk.round().clamp(0, 255).to(torch.uint8)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "data/faces/train.rgb")
    p.add_argument("--limit", type=int, default=None, help="use only the first N faces (smoke tests)")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--channels", type=str, default="256,128,64,32,16", help="generator widths, 4x4 first")
    p.add_argument("--d-channels", type=str, default="32,64,128,256", help="discriminator widths, full res first")
    p.add_argument("--z-dim", type=int, default=128)
    p.add_argument("--steps", type=int, default=6000, help="total generator steps")
    p.add_argument("--batch", type=int, default=32, help="per-process batch size")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--beta1", type=float, default=0.0, help="Adam beta1 of both networks")
    p.add_argument("--loss", choices=["hinge", "logistic"], default="hinge", help="GAN loss")
    p.add_argument("--spectral-norm", action=argparse.BooleanOptionalAction, default=True, help="in the critic")
    p.add_argument("--r1", type=float, default=0.0, help="R1 penalty weight gamma on real images (0: off)")
    p.add_argument("--r1-every", type=int, default=16, help="lazy R1: apply it every N steps, scaled by N")
    p.add_argument("--mapping-lr-mult", type=float, default=0.1)
    p.add_argument("--ema-beta", type=float, default=0.999)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="CPU threads per process (0: torch default)")
    p.add_argument("--run-dir", type=Path, default=ROOT / "runs/faces", help="training state; resumes from it")
    p.add_argument("--out", type=Path, default=ROOT / "checkpoints/faces", help="where the EMA generator goes")
    p.add_argument("--save-every", type=int, default=250)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--push-to-hub", metavar="REPO", default=None, help="also publish the checkpoint to this repo")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rank, world, device = setup_distributed()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # denormals slow CPU convolutions 10-50x once losses settle
    torch.manual_seed(args.seed + rank)
    use_amp = device.type == "cuda"

    faces = load_faces(args.data, args.resolution, args.limit)
    labels = torch.from_numpy(load_labels(args.data.with_suffix(".jsonl"), len(faces)))
    args.num_faces = len(faces)
    if rank == 0:
        print(f"{len(faces)} faces at {args.resolution}px, {world} process(es) on {device}", flush=True)
    combos, counts = labels.unique(dim=0, return_counts=True)

    g_channels = [int(c) for c in args.channels.split(",")]
    d_channels = tuple(int(c) for c in args.d_channels.split(","))
    generator = FaceGenerator(
        resolution=args.resolution,
        z_dim=args.z_dim,
        w_dim=args.z_dim,
        channels=g_channels,
        attribute_names=list(ATTRIBUTES),
        attribute_classes=[list(classes) for classes in ATTRIBUTES.values()],
        label_combos=combos.tolist(),
        label_counts=counts.tolist(),
    ).to(device)
    label_classes = tuple(len(classes) for classes in ATTRIBUTES.values())
    discriminator = Discriminator(args.resolution, d_channels, args.spectral_norm, label_classes).to(device)
    g_ema = copy.deepcopy(generator).eval().requires_grad_(False)
    mapping_params = list(generator.mapping.parameters())
    mapping_ids = {id(p) for p in mapping_params}
    g_opt = torch.optim.Adam(
        [
            {"params": [p for p in generator.parameters() if id(p) not in mapping_ids]},
            {"params": mapping_params, "lr": args.lr * args.mapping_lr_mult},
        ],
        lr=args.lr,
        betas=(args.beta1, 0.99),
    )
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=args.lr, betas=(args.beta1, 0.99))

    parts = {"generator": generator, "discriminator": discriminator, "g_ema": g_ema, "g_opt": g_opt, "d_opt": d_opt}
    run = RunState(args.run_dir / "state.pt", parts, rank, world, device)
    run.resume()
    step = run.step

    g_train, d_train = generator, discriminator
    if world > 1:
        g_train = DistributedDataParallel(generator, device_ids=[device.index] if use_amp else None)
        d_train = DistributedDataParallel(discriminator, device_ids=[device.index] if use_amp else None)

    sample_z = torch.randn(64, args.z_dim, generator=torch.Generator().manual_seed(1234)).to(device)
    sample_labels = generator.sample_labels(list(range(64))).to(device)
    data_gen = torch.Generator().manual_seed(args.seed * 1000 + rank + step)

    def real_batch() -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(faces), (args.batch,), generator=data_gen)
        return (faces[idx].to(device).float() / 127.5 - 1).contiguous(), labels[idx].to(device)

    def fake_labels() -> torch.Tensor:
        """Labels for generated faces: those of random training faces (the joint training distribution)."""
        return labels[torch.randint(len(labels), (args.batch,), generator=data_gen)].to(device)

    def save_samples() -> None:
        with torch.no_grad():
            images = g_ema(sample_z, sample_labels).float().cpu()
        (args.run_dir / "samples").mkdir(parents=True, exist_ok=True)
        image_grid(tensor_to_pil(images), columns=8).save(args.run_dir / "samples" / f"step{step:06d}.png")

    progress = tqdm(total=args.steps, initial=step, disable=rank != 0, dynamic_ncols=True)
    while step < args.steps:
        # Discriminator step on real vs generated faces (one forward, so DDP sees one pass).
        z, z_labels = torch.randn(args.batch, args.z_dim, device=device), fake_labels()
        real, real_labels = real_batch()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            with torch.no_grad():
                fake = g_train(z, z_labels)
            logits = d_train(torch.cat([real, fake.float()]), torch.cat([real_labels, z_labels]))
            real_logits, fake_logits = logits.float().chunk(2)
            if args.loss == "hinge":
                d_loss = F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
            else:
                d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()

        if args.r1 and step % args.r1_every == 0:
            # Lazy R1 (Mescheder et al. 2018; StyleGAN2): penalise the critic's gradient on real faces.
            real, real_labels = real_batch()
            real.requires_grad_(True)
            (grad,) = torch.autograd.grad(d_train(real, real_labels).sum(), real, create_graph=True)
            r1 = grad.pow(2).sum(dim=(1, 2, 3)).mean() * (args.r1 / 2 * args.r1_every)
            d_opt.zero_grad(set_to_none=True)
            r1.backward()
            d_opt.step()

        # Generator step, through the unwrapped discriminator so its DDP hooks stay out of it.
        discriminator.requires_grad_(False)
        z, z_labels = torch.randn(args.batch, args.z_dim, device=device), fake_labels()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            fake_logits = discriminator(g_train(z, z_labels), z_labels).float()
            g_loss = -fake_logits.mean() if args.loss == "hinge" else F.softplus(-fake_logits).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        discriminator.requires_grad_(True)

        with torch.no_grad():
            w_mean = generator.mapping(z, z_labels).mean(dim=0)
            if world > 1:
                dist.all_reduce(w_mean)
                w_mean /= world
            generator.w_avg.lerp_(w_mean, 0.005)
            # EMA of the generator; a short warm-up so early samples are not stuck at initialisation.
            beta = min(args.ema_beta, (1 + step) / (10 + step))
            for p_ema, p in zip(g_ema.parameters(), generator.parameters(), strict=True):
                p_ema.lerp_(p, 1 - beta)
            for b_ema, b in zip(g_ema.buffers(), generator.buffers(), strict=True):
                b_ema.copy_(b)

        step += 1
        progress.update(1)
        if step % 25 == 0:
            progress.set_postfix(d=f"{d_loss.item():.3f}", g=f"{g_loss.item():.3f}")
        if step % args.save_every == 0 or step == args.steps:
            run.step = step
            run.save()
        if rank == 0 and (step % args.sample_every == 0 or step == args.steps):
            save_samples()
    progress.close()

    if rank == 0:
        export(g_ema, args, run.hours, world, device)
    if world > 1:
        dist.destroy_process_group()


def export(g_ema: FaceGenerator, args: argparse.Namespace, hours: float, world: int, device: torch.device) -> None:
    """Write the EMA generator as safetensors + config.json, with a training record for the model card."""
    g_ema = g_ema.to("cpu").float()
    args.out.mkdir(parents=True, exist_ok=True)
    g_ema.save_pretrained(args.out)
    record = training_record(
        args, world, device, hours, images_seen=args.steps * args.batch * world, training_faces=args.num_faces
    )
    write_training_record(args.out, record)
    (args.out / "metrics.json").unlink(missing_ok=True)  # figures of older weights; bench/faces.py rewrites it
    write_card(args.out)
    finish_export(args.out, args.push_to_hub)


if __name__ == "__main__":
    main()
