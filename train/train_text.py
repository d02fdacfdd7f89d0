"""Train the Shakespeare GPT (gen_app/text/model.py) on the plays rendered by build_text_data.py.

    python train/build_text_data.py                        # data/text/{train,val}.txt
    python train/train_text.py                             # writes checkpoints/text/ (BPE, 2600 steps)
    torchrun --nproc_per_node 2 train/train_text.py ...    # data-parallel (gloo on CPU, nccl on CUDA)

nanoGPT's recipe: random windows of the training text, AdamW with warm-up and cosine decay, gradient
clipping, bf16 autocast on CUDA. Every --eval-every steps it reports the loss on a fixed sample of
validation windows (four held-out plays), in nats per character. State is saved to --run-dir and a run with
the same --run-dir resumes from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gen_app.text.model import GPT  # noqa: E402
from gen_app.text.scoring import nats_per_char  # noqa: E402
from gen_app.text.tokenizer import Tokenizer, train_tokenizer  # noqa: E402
from train.common import (  # noqa: E402
    RunState,
    finish_export,
    save_model,
    setup_distributed,
    training_record,
    warmup_cosine,
    write_training_record,
)

ROOT = Path(__file__).resolve().parent.parent


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
    p.add_argument("--steps", type=int, default=2600)
    p.add_argument("--batch", type=int, default=32, help="per-process batch size")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-chars", type=int, default=64_000, help="validation characters per evaluation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="CPU threads per process (0: torch default)")
    p.add_argument("--run-dir", type=Path, default=ROOT / "runs/text")
    p.add_argument("--out", type=Path, default=ROOT / "checkpoints/text")
    p.add_argument("--push-to-hub", metavar="REPO", default=None, help="also publish the checkpoint to this repo")
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
    rank, world, device = setup_distributed()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed + rank)
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
    run = RunState(args.run_dir / "state.pt", {"model": model, "optimizer": optimizer}, rank, world, device)
    run.resume()
    step, history = run.step, run.history
    train_model = DistributedDataParallel(model) if world > 1 else model
    if rank == 0:
        params = sum(p.numel() for p in model.parameters())
        print(
            f"{params / 1e6:.2f} M parameters, {args.tokenizer} tokenizer ({tokenizer.vocab_size} tokens), "
            f"{len(train_text):,} training characters = {len(train_ids):,} tokens, {world} process(es)",
            flush=True,
        )

    data_gen = torch.Generator().manual_seed(args.seed * 1000 + rank + step)
    progress = tqdm(total=args.steps, initial=step, disable=rank != 0, dynamic_ncols=True)
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
                history.append({"step": step, "train_per_token": round(loss.item(), 4), "val": round(val, 4),
                                "chars_seen": int(chars_seen)})
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
    save_model(model, args.out)
    tokenizer.save(args.out / "tokenizer.json")
    tokens = args.steps * args.batch * args.block_size * world
    extra = {"tokenizer": args.tokenizer, "training_chars": args.training_chars, "tokens_seen": tokens}
    record = training_record(args, world, device, hours, **extra, history=history)
    write_training_record(args.out, record)
    finish_export(args.out, args.push_to_hub)


if __name__ == "__main__":
    main()
