"""Train the neural instrument synthesiser (gen_app/audio/synth.py) on the rendered phrases.

    python -m train.synth.data                # data/audio/{train,val}.npz
    python -m train.synth.train               # writes checkpoints/synth/
    torchrun --nproc_per_node 2 -m train.synth.train ...   # data-parallel (gloo on CPU, nccl on CUDA)

The DDSP recipe: the synthesiser gets the phrase's f0 and loudness curves and its instrument, and its audio is
compared with FluidSynth's rendering by a multi-scale spectral loss (L1 between magnitudes and between log
magnitudes, FFT sizes 2048 to 64). Random crops of --seconds from each 4 s phrase; Adam with warm-up and
cosine decay. The held-out phrases (val.npz, tunes never trained on) give the logged validation loss.
State is saved to --run-dir; the same --run-dir resumes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from gen_app.audio.synth import NeuralSynth, spectral_distance
from train.common import (
    ROOT,
    add_common_args,
    export_checkpoint,
    setup_run,
    start_process,
    training_record,
    warmup_cosine,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "data/audio", help="folder with train.npz, val.npz, meta.json")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--harmonics", type=int, default=60)
    p.add_argument("--seconds", type=float, default=2.0, help="training crop length")
    add_common_args(p, task="synth", steps=6000, batch=8, lr=1e-3, eval_every=500)
    return p.parse_args(argv)


SOUNDING_DB = -60.0


def learning_rate(step: int, args: argparse.Namespace) -> float:
    return warmup_cosine(step, args.lr, args.warmup, args.steps, low=0.05 * args.lr)


def load_split(path: Path) -> dict[str, torch.Tensor]:
    data = np.load(path)
    return {
        "audio": torch.from_numpy(data["audio"].astype(np.float32) / 32767),
        "f0": torch.from_numpy(data["f0"]),
        "loudness": torch.from_numpy(data["loudness"]),
        "instrument": torch.from_numpy(data["instrument"]),
    }


def typical_loudness(split: dict, instruments: int) -> list[float]:
    """Each instrument's median loudness (dB) over its sounding frames (above SOUNDING_DB): stored in the model's
    config, it is the level the app plays notes at."""
    levels = []
    for k in range(instruments):
        loudness = split["loudness"][split["instrument"] == k]
        levels.append(round(float(loudness[loudness > SOUNDING_DB].median()), 2))
    return levels


def batch_of(split: dict, count: int, frames: int, hop: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Random `frames`-long crops of random phrases: (f0, loudness, instrument index, audio)."""
    index = torch.randint(len(split["f0"]), (count,), generator=gen)
    start = torch.randint(split["f0"].shape[1] - frames + 1, (count,), generator=gen)
    f0 = torch.stack([split["f0"][i, s : s + frames] for i, s in zip(index, start, strict=True)])
    loud = torch.stack([split["loudness"][i, s : s + frames] for i, s in zip(index, start, strict=True)])
    audio = torch.stack([split["audio"][i, s * hop : (s + frames) * hop] for i, s in zip(index, start, strict=True)])
    return f0, loud, split["instrument"][index], audio


@torch.no_grad()
def validation_loss(model: NeuralSynth, split: dict, device: torch.device, limit: int = 48) -> float:
    model.eval()
    losses = []
    generator = torch.Generator().manual_seed(0)  # the same noise every time
    for i in range(0, min(limit, len(split["f0"])), 8):
        sl = slice(i, min(i + 8, limit))
        weights = torch.nn.functional.one_hot(split["instrument"][sl], len(model.instruments)).float()
        out = model(split["f0"][sl].to(device), split["loudness"][sl].to(device), weights.to(device), generator)
        losses.append(spectral_distance(out, split["audio"][sl].to(device)).item())
    model.train()
    return float(np.mean(losses))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rank, world, device = start_process(args, flush_denormal=True)

    meta = json.loads((args.data / "meta.json").read_text())
    instruments = [i["name"] for i in meta["instruments"]]
    train, val = load_split(args.data / "train.npz"), load_split(args.data / "val.npz")
    levels = typical_loudness(train, len(instruments))
    model = NeuralSynth(
        instruments,
        args.hidden,
        args.harmonics,
        sample_rate=meta["sample_rate"],
        hop=meta["hop"],
        typical_loudness_db=levels,
    )
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    parts = {"model": model, "optimizer": optimizer}
    summary = f"{len(instruments)} instruments, {len(train['f0'])} training phrases ({len(val['f0'])} held out)"
    run, train_model, gen, progress = setup_run(args, parts, rank, world, device, summary)
    step, history = run.step, run.history
    frames = int(args.seconds * meta["sample_rate"] / meta["hop"])
    while step < args.steps:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args)
        f0, loud, instrument, audio = batch_of(train, args.batch, frames, meta["hop"], gen)
        weights = torch.nn.functional.one_hot(instrument, len(instruments)).float()
        out = train_model(f0.to(device), loud.to(device), weights.to(device))
        loss = spectral_distance(out, audio.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        optimizer.step()
        step += 1
        progress.update(1)
        if step % args.eval_every == 0 or step == args.steps:
            if rank == 0:
                held = validation_loss(model, val, device)
                history.append({"step": step, "train": round(loss.item(), 4), "val": round(held, 4)})
                progress.write(f"step {step}: spectral loss {loss.item():.3f}, held-out {held:.3f}")
            run.step = step
            run.save()
    progress.close()

    if rank == 0:
        record = training_record(args, world, device, run.hours, seconds=args.seconds, lr=args.lr, data=meta)
        export_checkpoint(model, args, record | {"history": history})
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
