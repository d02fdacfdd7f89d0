"""Train the Shakespeare GPT (gen_app/gpt.py) on the plays rendered by train/text/data.py.

    python -m train.text.data                              # data/text/{train,val}.txt
    python -m train.text.train                             # writes checkpoints/text/ (BPE, 2600 steps)
    torchrun --nproc_per_node 2 -m train.text.train ...    # data-parallel (gloo on CPU, nccl on CUDA)

nanoGPT's recipe: random windows of the training text, AdamW with warm-up and cosine decay, gradient
clipping, bf16 autocast on CUDA. Every --eval-every steps it reports the loss on a fixed sample of
validation windows (four held-out plays), in nats per character. State is saved to --run-dir and a run with
the same --run-dir resumes from it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from gen_app.gpt import GPT
from gen_app.scoring import nats_per_char
from gen_app.text.tokenizer import Tokenizer, train_tokenizer
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
    p.add_argument("--data", type=Path, default=ROOT / "data/text", help="folder with train.txt and val.txt")
    p.add_argument("--tokenizer", choices=["char", "bpe"], default="bpe", help="bpe won the comparison (model card)")
    p.add_argument("--vocab-size", type=int, default=2048, help="BPE vocabulary size (with --tokenizer bpe)")
    p.add_argument("--block-size", type=int, default=256, help="context length in tokens")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--eval-chars", type=int, default=64_000, help="validation characters per evaluation")
    add_common_args(p, task="text", steps=2600, batch=32, lr=2e-3, eval_every=250)
    return p.parse_args(argv)


def learning_rate(step: int, args: argparse.Namespace) -> float:
    return warmup_cosine(step, args.lr, args.warmup, args.steps, low=args.min_lr)


def validation_sample(text: str, chars: int, pieces: int = 8) -> str:
    """`pieces` evenly spaced slices of the validation text, `chars` characters in all (fixed per run)."""
    size = min(chars, len(text)) // pieces
    starts = torch.linspace(0, len(text) - size, pieces).long().tolist()
    return "".join(text[s : s + size] for s in starts)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rank, world, device = start_process(args)
    use_amp = device.type == "cuda"

    train_text = (args.data / "train.txt").read_text(encoding="utf-8")
    val_text = (args.data / "val.txt").read_text(encoding="utf-8")
    tokenizer = train_tokenizer(args.tokenizer, train_text, args.vocab_size)
    args.training_chars = len(train_text)
    train_ids = torch.tensor(tokenizer.encode(train_text), dtype=torch.long)
    val_sample = validation_sample(val_text, args.eval_chars)

    model = GPT(
        vocab_size=tokenizer.vocab_size,
        block_size=args.block_size,
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_embd=args.n_embd,
        dropout=args.dropout,
    ).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.99),
    )
    parts = {"model": model, "optimizer": optimizer}
    summary = (
        f"{args.tokenizer} tokenizer ({tokenizer.vocab_size} tokens), "
        f"{len(train_text):,} training characters = {len(train_ids):,} tokens"
    )
    run, train_model, data_gen, progress = setup_run(args, parts, rank, world, device, summary)
    step, history = run.step, run.history
    while step < args.steps:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args)
        starts = torch.randint(len(train_ids) - args.block_size - 1, (args.batch,), generator=data_gen)
        x = torch.stack([train_ids[s : s + args.block_size] for s in starts]).to(device)
        y = torch.stack([train_ids[s + 1 : s + args.block_size + 1] for s in starts]).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            logits = train_model(x)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        progress.update(1)
        if step % args.eval_every == 0 or step == args.steps:
            if rank == 0:
                val = nats_per_char(model, tokenizer, val_sample, device)
                chars_seen = step * args.batch * args.block_size * world * len(train_text) / len(train_ids)
                history.append(
                    {
                        "step": step,
                        "train_per_token": round(loss.item(), 4),
                        "val": round(val, 4),
                        "chars_seen": int(chars_seen),
                    }
                )
                progress.write(f"step {step}: train {loss.item():.3f} nats/token, val {val:.3f} nats/char")
            run.step = step
            run.save()
    progress.close()

    if rank == 0:
        export(model, tokenizer, args, history, run.hours, world, device)
    if world > 1:
        dist.destroy_process_group()


def export(
    model: GPT,
    tokenizer: Tokenizer,
    args: argparse.Namespace,
    history: list[dict],
    hours: float,
    world: int,
    device: torch.device,
) -> None:
    tokens = args.steps * args.batch * args.block_size * world
    extra = {"tokenizer": args.tokenizer, "training_chars": args.training_chars, "tokens_seen": tokens}
    record = training_record(args, world, device, hours, **extra, history=history)
    export_checkpoint(model, args, record, also_write=lambda out: tokenizer.save(out / "tokenizer.json"))


if __name__ == "__main__":
    main()
