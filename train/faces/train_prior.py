"""Train the face prior (gen_app/faces/prior.py): a small GRU over the parameters of facesjs faces.

    python -m train.faces.data
    python -m train.faces.train_prior --threads 2    # the shipped prior: 1,500 steps, about 2.5 min

Trains on the parameters of the training faces (no images needed); reports the held-out negative
log-likelihood per face against the baseline that draws every field independently from its training
frequencies, and exports to --out with a training record.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from gen_app.faces.dataset import load_params
from gen_app.faces.params import FaceCodec
from gen_app.faces.prior import FacePrior
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
    p.add_argument("--data", type=Path, default=ROOT / "data/faces/train.jsonl")
    p.add_argument("--heldout", type=Path, default=ROOT / "data/faces/heldout.jsonl")
    p.add_argument("--renderer", type=Path, default=ROOT / "checkpoints/faces", help="its codec is the prior's")
    p.add_argument("--limit", type=int, default=None, help="use only the first N faces of each set (smoke tests)")
    p.add_argument("--hidden", type=int, default=128, help="the GRU's state size")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--embd", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.1)
    add_common_args(p, task="faces-prior", steps=1500, batch=256, lr=1e-3, eval_every=500)
    p.add_argument("--save-every", type=int, default=500)
    return p.parse_args(argv)


def field_tokens(jsonl: Path, codec: FaceCodec, limit: int | None) -> torch.Tensor:
    cat, cont = load_params(jsonl, codec, limit)
    return torch.tensor([codec.tokens(c, x) for c, x in zip(cat.tolist(), cont.tolist(), strict=True)])


def independent_nll(train: torch.Tensor, heldout: torch.Tensor, sizes: list[int]) -> float:
    """Nats per face of `heldout` under independent per-field frequencies of `train` (add-one smoothed)."""
    total = 0.0
    for f, size in enumerate(sizes):
        counts = torch.bincount(train[:, f], minlength=size).double() + 1
        total -= (counts / counts.sum()).log()[heldout[:, f]].mean().item()
    return total


@torch.no_grad()
def heldout_nll(model: FacePrior, tokens: torch.Tensor) -> float:
    model.eval()
    losses = [model.loss(tokens[i : i + 1024]).item() * len(tokens[i : i + 1024]) for i in range(0, len(tokens), 1024)]
    model.train()
    return sum(losses) / len(tokens) * tokens.shape[1]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rank, world, device = start_process(args)
    if world > 1:
        raise SystemExit("the prior trains in minutes in one process: run it without torchrun")
    renderer_config = json.loads((args.renderer / "config.json").read_text())
    codec = FaceCodec.from_config(renderer_config["categorical_values"], renderer_config["continuous_ranges"])
    train = field_tokens(args.data, codec, args.limit)
    heldout = field_tokens(args.heldout, codec, args.limit)
    baseline = independent_nll(train, heldout, codec.token_sizes)
    summary = f"{len(train)} training faces; baseline (independent fields) {baseline:.3f} nats per face"

    model = FacePrior(codec.token_sizes, args.hidden, args.layers, args.embd, args.dropout).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    run, _, data_gen, progress = setup_run(args, {"model": model, "opt": opt}, rank, world, device, summary)
    step = run.step
    while step < args.steps:
        for group in opt.param_groups:
            group["lr"] = warmup_cosine(step, args.lr, args.warmup, args.steps, low=args.lr * 0.05)
        batch = train[torch.randint(len(train), (args.batch,), generator=data_gen)].to(device)
        loss = model.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        progress.update(1)
        if step % 50 == 0:
            progress.set_postfix(nats=f"{loss.item() * train.shape[1]:.2f}")
        if step % args.eval_every == 0 or step == args.steps:
            nll = heldout_nll(model, heldout.to(device))
            run.history.append({"step": step, "heldout_nats_per_face": round(nll, 3)})
            print(f"step {step}: held-out {nll:.3f} nats per face (baseline {baseline:.3f})", flush=True)
        if step % args.save_every == 0 or step == args.steps:
            run.step = step
            run.save()
    progress.close()
    nll = heldout_nll(model, heldout.to(device))
    record = training_record(
        args,
        world,
        device,
        run.hours,
        training_faces=len(train),
        heldout_nats_per_face=round(nll, 3),
        baseline_nats_per_face=round(baseline, 3),
        bits_per_face=round(nll / math.log(2), 2),
        parameters=sum(p.numel() for p in model.parameters()),
        history=run.history,
    )
    export_checkpoint(model, args, record)


if __name__ == "__main__":
    main()
