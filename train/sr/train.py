"""Train a super-resolution network (gen_app/sr/model.py) on the crop set from train/sr/data.py.

    python -m train.sr.data                                        # data/sr/*.npy
    python -m train.sr.train --scale 4                             # writes checkpoints/sr-x4/
    python -m train.sr.train --scale 2 --init-from checkpoints/sr-x4   # x2, starting from the x4 body
    torchrun --nproc_per_node 2 -m train.sr.train --scale 4 ...    # data-parallel (gloo on CPU, nccl on CUDA)
    python -m train.sr.train --scale 4 --degradation realistic --init-from checkpoints/sr-x4 \
        --out checkpoints/sr-x4-real --run-dir runs/sr-x4-real     # for real photos (blur, noise, JPEG)

The PSNR recipe (EDSR, Real-ESRGAN's PSNR stage): L1 loss between the network's output for a bicubic-
downscaled crop and the original crop; random flips and 90-degree rotations; Adam with warm-up and cosine
decay; bf16 autocast on CUDA (and on a CPU with --precision bf16: 1.5x faster where the CPU has bf16
instructions). 256 crops (evenly spread) are held out to follow training (PSNR on them, in dB, next
to bicubic's); the real validation photos are only used by bench/sr.py. State is saved to --run-dir, and a
run with the same --run-dir resumes from it. --init-from copies every tensor whose shape matches from
another checkpoint (the body; the last convolution differs between scales). From a shallower checkpoint of the
same width (--num-convs larger than its), it deepens that network instead: the new layers start as identities
(a Dirac convolution and a PReLU of slope 1, after each old hidden layer in turn), so training starts from exactly
the old network's output and the extra depth only has to learn what it adds (Net2DeeperNet, Chen et al. 2016).

Every evaluation that beats the best held-out PSNR so far exports the model to --out at once (its training.json
says how many steps it had: `steps_done` and `best_step`), so a run stopped at any time leaves its best
checkpoint; the end of the run keeps the best weights and rewrites training.json with the whole history.

--degradation realistic makes each low-resolution input on the fly from its (augmented) high-resolution patch with
Real-ESRGAN's second-order pipeline (gen_app/sr/degradations.py: blur, resize, noise, JPEG, twice, then a sinc
filter), one random degradation per sample. Its batches depend only on (--seed, rank, step): the patches are
drawn from a generator seeded by those and sample i's degradation from numpy's default_rng((seed, rank, step, i)),
so a resumed run sees exactly the data of an uninterrupted one. The held-out crops are then degraded by the fixed
validation settings (gen_app.sr.degradations.VALIDATION_SETTINGS, in turn), and their "bicubic" PSNR is that of
bicubic on the degraded input. The lr2/lr4.npy files are not used.
"""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gen_app.sr.degradations import MILD_PROB, VALIDATION_SETTINGS, degrade_batch, validation_lr
from gen_app.sr.model import SRNet
from gen_app.sr.pipeline import jpeg_quality
from train.common import (
    ROOT,
    add_common_args,
    export_checkpoint,
    init_from_checkpoint,
    previous_stage,
    setup_run,
    start_process,
    training_record,
    warmup_cosine,
    write_training_record,
)

HELD_OUT = 256


def add_realistic_args(p: argparse.ArgumentParser) -> None:
    """--mild-prob, --jpeg-input and --clean-prob: for every stage that trains on realistic pairs."""
    p.add_argument(
        "--mild-prob",
        type=float,
        default=MILD_PROB,
        help="realistic inputs: share of mild (first-order) training pairs, the rest second-order",
    )
    p.add_argument(
        "--jpeg-input",
        action="store_true",
        help="realistic inputs: tell the network each input's JPEG quality (SRNet's jpeg_input; on by itself when "
        "--init-from has it)",
    )
    p.add_argument(
        "--clean-prob",
        type=float,
        default=0.0,
        help="realistic inputs: share of clean pairs (bicubic shrink, lossless), drawn before the mild/second-order "
        "choice; with --jpeg-input they teach the network to stay faithful on an image that is no JPEG",
    )


def realistic_recipe(args: argparse.Namespace) -> dict:
    """What a stage on realistic pairs records of its mix (the card reads it)."""
    return {"mild_prob": args.mild_prob, "clean_prob": args.clean_prob, "jpeg_input": args.jpeg_input}


def build_model(args: argparse.Namespace, rank: int) -> SRNet:
    """The network of --scale, --channels, --num-convs (and --jpeg-input, also taken from --init-from's config),
    initialised from --init-from when given: matching tensors copied, or a shallower network deepened."""
    source = SRNet.from_pretrained(args.init_from) if args.init_from is not None else None
    args.jpeg_input = bool(getattr(args, "jpeg_input", False) or (source is not None and source.jpeg_input))
    model = SRNet(scale=args.scale, channels=args.channels, num_convs=args.num_convs, jpeg_input=args.jpeg_input)
    if source is not None:
        if len(hidden_layers(source)) < len(hidden_layers(model)):
            deepen_into(model, source, rank)
        else:
            init_from_checkpoint(model, args.init_from, rank)
    return model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "data/sr", help="folder with hr.npy, lr2.npy, lr4.npy")
    p.add_argument("--scale", type=int, choices=[2, 4], default=4)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--num-convs", type=int, default=12)
    p.add_argument("--patch", type=int, default=32, help="low-resolution patch size")
    p.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="autocast dtype of the forward pass; auto: bf16 on CUDA, fp32 on a CPU",
    )
    p.add_argument(
        "--degradation",
        choices=["bicubic", "realistic"],
        default="bicubic",
        help="low-resolution inputs: the data set's bicubic shrink, or made on the fly with blur, noise and JPEG",
    )
    add_realistic_args(p)
    p.add_argument(
        "--loss",
        choices=["l1", "l2"],
        default="l1",
        help="l1 to train (robust, converges faster); l2 (= what PSNR measures) for a last fine-tune",
    )
    add_common_args(
        p, task="sr-x<scale>", steps=8000, batch=16, lr=5e-4, eval_every=500, init_from=True, default_paths=False
    )
    args = p.parse_args(argv)
    args.run_dir = args.run_dir or ROOT / f"runs/sr-x{args.scale}"
    args.out = args.out or ROOT / f"checkpoints/sr-x{args.scale}"
    return args


def learning_rate(step: int, args: argparse.Namespace) -> float:
    return warmup_cosine(step, args.lr, args.warmup, args.steps)


def to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array)).permute(0, 3, 1, 2).float() / 255


def batch_of(hr: np.ndarray, lr: np.ndarray | None, args: argparse.Namespace, gen: torch.Generator):
    """Random aligned (low, high) patches with random flips / 90-degree rotations (low is None without `lr`)."""
    index = torch.randint(len(hr), (args.batch,), generator=gen).numpy()
    room = hr.shape[1] // args.scale - args.patch
    y, x = (torch.randint(room + 1, (2,), generator=gen) if room > 0 else torch.zeros(2, dtype=torch.long)).tolist()
    s, p = args.scale, args.patch
    low = to_tensor(lr[index, y : y + p, x : x + p]) if lr is not None else None
    high = to_tensor(hr[index, y * s : (y + p) * s, x * s : (x + p) * s])
    turns, flip = torch.randint(4, (1,), generator=gen).item(), torch.rand(1, generator=gen).item() < 0.5
    high = torch.rot90(high, turns, (2, 3))
    high = high.flip(3) if flip else high
    if low is not None:
        low = torch.rot90(low, turns, (2, 3))
        low = low.flip(3) if flip else low
    return low, high


def realistic_batch(
    hr: np.ndarray, args: argparse.Namespace, rank: int, step: int
) -> tuple[torch.Tensor, torch.Tensor, list[int | None]]:
    """Patches, their degraded inputs and those inputs' JPEG file qualities, a function of (seed, rank, step) only:
    resuming changes nothing."""
    seed = int(np.random.default_rng((args.seed, rank, step)).integers(2**63))
    _, high = batch_of(hr, None, args, torch.Generator().manual_seed(seed))
    seeds = [(args.seed, rank, step, i) for i in range(len(high))]
    low, qualities = degrade_batch(high, seeds, args.scale, args.mild_prob, args.clean_prob)
    return low, high, qualities


def degraded_held_out(hr: np.ndarray, scale: int) -> tuple[torch.Tensor, list[int | None]]:
    """The held-out crops' inputs under the fixed validation settings, taken in turn, and their JPEG qualities as
    the app reads them from the file."""
    settings = list(VALIDATION_SETTINGS)
    lows = [validation_lr(Image.fromarray(crop), settings[i % len(settings)], scale) for i, crop in enumerate(hr)]
    return to_tensor(np.stack([np.asarray(low.convert("RGB")) for low in lows])), [jpeg_quality(low) for low in lows]


def psnr(a: torch.Tensor, b: torch.Tensor, border: int) -> float:
    """Mean PSNR (dB) over a batch, on uint8-rounded values, `border` pixels cropped."""
    a = (a.clamp(0, 1) * 255).round()[..., border:-border, border:-border]
    b = (b * 255).round()[..., border:-border, border:-border]
    mse = (a - b).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(255**2 / mse.clamp_min(1e-10))).mean().item()


@torch.no_grad()
def held_out_psnr(
    model: SRNet, low: torch.Tensor, high: torch.Tensor, device: torch.device, qualities: list | None = None
) -> tuple[float, float]:
    """(the model's, bicubic's) mean PSNR on held-out pairs; `qualities`: the inputs' JPEG qualities, if known."""
    model.eval()
    qualities = qualities or [None] * len(low)
    out = torch.cat(
        [model(low[i : i + 64].to(device), qualities[i : i + 64]).float().cpu() for i in range(0, len(low), 64)]
    )
    model.train()
    bicubic = F.interpolate(low, scale_factor=model.scale, mode="bicubic", align_corners=False)
    return psnr(out, high, model.scale), psnr(bicubic, high, model.scale)


def hidden_layers(model: SRNet) -> list[tuple[nn.Conv2d, nn.PReLU]]:
    """The (convolution, PReLU) pairs of the body, first one included; the last convolution is not one."""
    layers = list(model.body)
    return [(layers[i], layers[i + 1]) for i in range(0, len(layers) - 2, 2)]


@torch.no_grad()
def deepen_into(model: SRNet, source: SRNet, rank: int) -> None:
    """Make `model` compute what the shallower `source` does: its layers in order, identity layers spread among
    them (one after each hidden layer from the second on, round-robin, until the depth is reached)."""
    old, new = hidden_layers(source), hidden_layers(model)
    extra = len(new) - len(old)
    if old[0][0].out_channels != new[0][0].out_channels or extra <= 0:
        raise ValueError("deepening needs a shallower checkpoint of the same width")
    per_layer = [extra // (len(old) - 1) + (i < extra % (len(old) - 1)) for i in range(len(old) - 1)]
    target = iter(new)
    for i, (conv, prelu) in enumerate(old):
        into_conv, into_prelu = next(target)
        into_conv.load_state_dict(conv.state_dict())
        into_prelu.load_state_dict(prelu.state_dict())
        for _ in range(per_layer[i - 1] if i > 0 else 0):
            identity_conv, identity_prelu = next(target)
            nn.init.dirac_(identity_conv.weight)
            nn.init.zeros_(identity_conv.bias)
            identity_prelu.weight.fill_(1.0)  # PReLU(1) is the identity; inputs are already PReLU outputs
    model.body[-2].load_state_dict(source.body[-2].state_dict())  # the last convolution
    if rank == 0:
        print(f"deepened {len(old) - 1} -> {len(new) - 1} convolutions, starting as the same function", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rank, world, device = start_process(args, flush_denormal=True)
    use_amp = args.precision == "bf16" or (args.precision == "auto" and device.type == "cuda")

    realistic = args.degradation == "realistic"
    hr = np.load(args.data / "hr.npy")
    lr = np.load(args.data / f"lr{args.scale}.npy")  # bicubic inputs: trained on (clean), or a check (realistic)
    # Every n-th crop is held out (crops are stored photo by photo, so this samples all photos).
    held = np.zeros(len(hr), dtype=bool)
    held[:: len(hr) // HELD_OUT][:HELD_OUT] = True
    train_hr, train_lr = hr[~held], (None if realistic else lr[~held])
    held_clean = to_tensor(lr[held])  # the held-out crops' bicubic shrinks
    held_low, held_qualities = degraded_held_out(hr[held], args.scale) if realistic else (held_clean, None)
    held_high = to_tensor(hr[held])

    model = build_model(args, rank).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
    parts = {"model": model, "optimizer": optimizer}
    summary = f"x{args.scale}, {len(train_hr):,} crops, {args.degradation} inputs"
    run, train_model, data_gen, progress = setup_run(args, parts, rank, world, device, summary)
    step, history = run.step, run.history
    best = max((h["psnr"] for h in history), default=-1.0)  # resumed runs keep the best they had

    def record_so_far() -> dict:
        built_by = args.data / "command.txt"
        return {
            "data": os.path.relpath(args.data, ROOT),
            "crops": len(hr),
            "crop_size": hr.shape[1],
            "data_command": built_by.read_text().strip() if built_by.exists() else None,
            "precision": "bf16" if use_amp else "fp32",
            "degradation": args.degradation,
            **(realistic_recipe(args) if realistic else {}),
            "steps_done": step,
            "best_step": max(history, key=lambda h: h["psnr"])["step"] if history else step,
        }

    while step < args.steps:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args)
        qualities = None
        if realistic:
            low, high, qualities = realistic_batch(train_hr, args, rank, step)
        else:
            low, high = batch_of(train_hr, train_lr, args, data_gen)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            out = train_model(low.to(device), qualities)
        loss = (F.l1_loss if args.loss == "l1" else F.mse_loss)(out.float(), high.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        progress.update(1)
        if step % args.eval_every == 0 or step == args.steps:
            if rank == 0:
                ours, bicubic = held_out_psnr(model, held_low, held_high, device, held_qualities)
                entry = {
                    "step": step,
                    args.loss: round(loss.item(), 5),
                    "psnr": round(ours, 3),
                    "bicubic_psnr": round(bicubic, 3),
                }
                clean = ""
                if realistic:  # how faithful it stays on clean input (the clean model's task), tracked beside
                    entry["clean_psnr"] = round(held_out_psnr(model, held_clean, held_high, device)[0], 3)
                    clean = f", clean {entry['clean_psnr']:.2f}"
                history.append(entry)
                progress.write(
                    f"step {step}: {args.loss.upper()} {loss.item():.4f}, "
                    f"held-out PSNR {ours:.2f} dB (bicubic {bicubic:.2f}){clean}"
                )
                if ours > best:
                    best = ours
                    # A copy: the export moves the model to the CPU in eval mode, and training goes on.
                    export(copy.deepcopy(model), args, history, run.hours, world, device, record_so_far())
            run.step = step
            run.save()
    progress.close()

    if rank == 0:
        recipe = record_so_far()
        best_step = recipe["best_step"]
        if best_step == step or not (args.out / "model.safetensors").exists():
            export(model, args, history, run.hours, world, device, recipe)
        else:  # the best weights (exported at best_step) stay; the record gets the whole history
            stage = previous_stage(args.init_from, args.run_dir)
            write_training_record(args.out, training_record_of(args, history, run.hours, world, device, recipe) | stage)
            print(f"kept the step-{best_step} export in {args.out} (the best held-out PSNR)", flush=True)
    if world > 1:
        dist.destroy_process_group()


def export(
    model: SRNet, args: argparse.Namespace, history: list[dict], hours: float, world: int, device, recipe: dict
) -> None:
    # The stage this run started from is read before the export, which may overwrite that folder.
    stage = previous_stage(args.init_from, args.run_dir)
    export_checkpoint(model, args, training_record_of(args, history, hours, world, device, recipe) | stage)


def training_record_of(
    args: argparse.Namespace, history: list[dict], hours: float, world: int, device, recipe: dict
) -> dict:
    init = str(args.init_from) if args.init_from else None
    record = training_record(
        args,
        world,
        device,
        hours,
        scale=args.scale,
        patch=args.patch,
        init_from=init,
        lr=args.lr,
        warmup=args.warmup,
        loss=args.loss,
        **recipe,
    )
    return record | {"history": history}


if __name__ == "__main__":
    main()
