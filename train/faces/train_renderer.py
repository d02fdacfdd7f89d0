"""Train the face renderer (gen_app/faces/renderer.py): facesjs parameters -> a 128x128 face.

    python -m train.faces.data
    python -m train.faces.train_renderer --precision bf16 --threads 1
    # a fine-tune from the shipped weights that sees faces with glasses five times as often:
    python -m train.faces.train_renderer --init-from checkpoints/faces --oversample glasses.id=5 --steps 4000 \
        --lr 3e-4 --warmup 100 --run-dir runs/faces-glasses --precision bf16 --threads 1

(One thread per process: on 2 cores, a single-threaded run beside other work is faster than a two-threaded one,
and `torchrun --nproc_per_node 2 -m train.faces.train_renderer ...` uses both cores with data parallelism.)

Supervised, so it converges on a CPU where a GAN does not: every training face comes with the parameters
that drew it, and the loss is L1 on pixels plus a perceptual term (relative feature error in
EfficientNet-Lite0's stem and blocks 0, 2, 4; the bench judges in other networks). The weights' EMA is what
ships. Resumes from --run-dir; every --eval-every steps it measures L1 / PSNR on held-out faces, writes a
sample sheet (real above, rendered below) and exports the EMA model to --out, so a run stopped at any time
leaves a usable checkpoint.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
import torch.nn.functional as F

from gen_app.faces.dataset import load_faces, load_params
from gen_app.faces.params import CATEGORICAL_FIELDS, FaceCodec, read_records
from gen_app.faces.renderer import FaceRenderer
from gen_app.images import image_grid, tensor_to_pil
from gen_app.style.features import FeatureNet, relative_error
from train.common import (
    ROOT,
    add_common_args,
    finish_export,
    init_from_checkpoint,
    previous_stage,
    save_model,
    setup_run,
    start_process,
    training_record,
    warmup_cosine,
    write_training_record,
)
from train.gan import PatchDiscriminator, discriminator_loss, generator_loss

PERCEPTUAL_LAYERS = ("stem", "block0", "block2", "block4")
EVAL_FACES = 512


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "data/faces/train.rgb")
    p.add_argument("--heldout", type=Path, default=ROOT / "data/faces/heldout.rgb")
    p.add_argument("--limit", type=int, default=None, help="use only the first N faces of each set (smoke tests)")
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument(
        "--channels", type=str, default="128,128,64,32", help="widths, 8x8 first, up to half the output size"
    )
    p.add_argument("--convs-per-block", type=str, default="2,2,2,2")
    p.add_argument("--w-dim", type=int, default=256)
    p.add_argument(
        "--part-maps",
        type=int,
        default=16,
        metavar="CHANNELS",
        help="channels of the part maps, a linear path from the parameters to the features (0: none)",
    )
    p.add_argument("--part-map-size", type=int, default=16, help="width of the features the part maps join")
    p.add_argument(
        "--sprites",
        action="store_true",
        help="draw eyes, eyebrows, mouth, nose and the face's lines as learned sprites",
    )
    p.add_argument("--sprite-lr-scale", type=float, default=100.0, help="the sprites' learning rate over --lr")
    add_common_args(p, task="faces", steps=24000, batch=16, lr=1e-3, eval_every=1000, warmup=500, init_from=True)
    p.add_argument(
        "--oversample",
        action="append",
        default=[],
        metavar="FIELD=FACTOR",
        help='draw the faces whose categorical FIELD is not "none" FACTOR times as often (e.g. glasses.id=5: thin '
        "parts that cover few pixels, which a pixel loss lets the renderer leave out)",
    )
    p.add_argument("--perceptual", type=float, default=0.2, help="weight of the perceptual term (0: L1 only)")
    p.add_argument(
        "--adversarial",
        type=float,
        default=0.0,
        help="weight of a light adversarial term (0: none): a patch discriminator (train/gan.py) that "
        "pulls back the thin lines (eye outlines, noses, brows) a pixel loss leaves faint; for a fine-tune",
    )
    p.add_argument(
        "--line-weight",
        type=float,
        default=0.0,
        help="extra weight of the pixel loss on the target's thin dark strokes (0: none; 4: a stroke pixel counts up "
        "to 5 times): the nose and the headbands are a few lines that an unweighted loss lets the renderer leave out",
    )
    p.add_argument("--disc-features", type=int, default=32)
    p.add_argument("--disc-lr", type=float, default=1e-4)
    p.add_argument("--ema-beta", type=float, default=0.999)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="autocast for forward passes")
    p.add_argument("--save-every", type=int, default=200)
    args = p.parse_args(argv)
    for spec in args.oversample:
        field, _, factor = spec.partition("=")
        if field not in CATEGORICAL_FIELDS or not factor.replace(".", "", 1).isdigit() or float(factor) <= 0:
            p.error(f"--oversample {spec!r}: expected FIELD=FACTOR with a categorical field and a positive factor")
    if args.run_dir == ROOT / "runs/faces":
        args.run_dir = ROOT / "runs/faces-renderer"
    return args


def to_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1


@torch.no_grad()
def held_out_scores(model: FaceRenderer, images: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor) -> dict:
    """Mean L1 (in [-1, 1] units) and PSNR (dB) of the rendering of held-out parameters against their images."""
    l1, mse = [], []
    for i in range(0, len(images), 64):
        out = model(cat[i : i + 64], cont[i : i + 64]).float().clamp(-1, 1)
        real = to_float(images[i : i + 64])
        l1.append((out - real).abs().mean((1, 2, 3)))
        mse.append(((out - real) / 2).pow(2).mean((1, 2, 3)))
    l1_all, mse_all = torch.cat(l1), torch.cat(mse)
    return {"l1": round(l1_all.mean().item(), 5), "psnr": round((-10 * mse_all.log10()).mean().item(), 3)}


def stroke_weights(real: torch.Tensor, line_weight: float) -> torch.Tensor:
    """Per pixel of target images (N, 3, H, W) in [-1, 1], 1 + line_weight x how much darker it is than its 5x5
    neighbourhood (clamped to [0, 1]): the outlines facesjs draws, thin dark strokes, weigh more; flat areas 1."""
    luma = real.mean(dim=1, keepdim=True)
    darker = F.avg_pool2d(luma, 5, stride=1, padding=2, count_include_pad=False) - luma
    return 1 + line_weight * darker.clamp(0, 1)


def sampling_weights(cat: torch.Tensor, codec: FaceCodec, oversample: list[str]) -> torch.Tensor | None:
    """Per training face, its relative chance of being drawn (None: all alike): each FIELD=FACTOR multiplies the
    weight of the faces whose FIELD is not "none"."""
    if not oversample:
        return None
    weights = torch.ones(len(cat), dtype=torch.float64)
    for spec in oversample:
        field, _, factor = spec.partition("=")
        values = codec.values_of(field)
        column = cat[:, CATEGORICAL_FIELDS.index(field)]
        has = column != values.index("none") if "none" in values else torch.ones_like(column, dtype=torch.bool)
        weights[has] *= float(factor)
    return weights


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rank, world, device = start_process(args, flush_denormal=True)

    train_jsonl, heldout_jsonl = args.data.with_suffix(".jsonl"), args.heldout.with_suffix(".jsonl")
    # The vocabularies are facesjs's part ids and value ranges (not learned figures): taken from both sets so
    # that every held-out face can be encoded.
    codec = FaceCodec.fit(
        read_records(train_jsonl.read_text(), args.limit) + read_records(heldout_jsonl.read_text(), args.limit)
    )
    faces = load_faces(args.data, args.resolution, args.limit)
    cat, cont = load_params(train_jsonl, codec, len(faces))
    eval_faces = load_faces(args.heldout, args.resolution, args.limit)[:EVAL_FACES]
    eval_cat, eval_cont = load_params(heldout_jsonl, codec, len(eval_faces))
    eval_cat, eval_cont = eval_cat.to(device), eval_cont.to(device)
    args.num_faces = len(faces)

    model = FaceRenderer(
        **codec.config(),
        resolution=args.resolution,
        w_dim=args.w_dim,
        channels=[int(c) for c in args.channels.split(",")],
        convs_per_block=[int(c) for c in args.convs_per_block.split(",")],
        part_map_channels=args.part_maps,
        part_map_size=args.part_map_size,
        part_sprites=args.sprites,
    ).to(device)
    if args.init_from is not None:
        init_from_checkpoint(model, args.init_from, rank)
    stage = previous_stage(args.init_from, args.run_dir)  # before an export may overwrite --init-from
    weights = sampling_weights(cat, codec, args.oversample)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    features = FeatureNet("lite0", last_block=4).to(device) if args.perceptual else None
    sprite_params = [p for name, p in model.named_parameters() if name.startswith("sprites.")]
    other_params = [p for name, p in model.named_parameters() if not name.startswith("sprites.")]
    groups = [{"params": other_params, "lr_scale": 1.0}]
    if sprite_params:
        groups.append({"params": sprite_params, "lr_scale": args.sprite_lr_scale})
    opt = torch.optim.Adam(groups, lr=args.lr, betas=(0.9, 0.99))
    parts = {"model": model, "ema": ema, "opt": opt}
    summary = f"{len(faces)} faces at {args.resolution} px on {device}"
    disc = None
    if args.adversarial:
        if world > 1:
            raise SystemExit("--adversarial runs in one process")
        disc = PatchDiscriminator(args.disc_features).to(device)
        opt_d = torch.optim.Adam(disc.parameters(), lr=args.disc_lr, betas=(0.9, 0.99))
        parts |= {"discriminator": disc, "disc_opt": opt_d}
        summary += f", adversarial weight {args.adversarial}"
    run, train_model, data_gen, progress = setup_run(args, parts, rank, world, device, summary)
    step = run.step
    use_bf16 = args.precision == "bf16"

    def evaluate_and_export() -> None:
        scores = held_out_scores(ema, eval_faces, eval_cat, eval_cont)
        run.history.append({"step": step, "hours": round(run.hours, 3), "cpu_hours": round(run.cpu_hours, 3), **scores})
        print(f"step {step}: held-out {scores}", flush=True)
        with torch.no_grad():
            rendered = ema(eval_cat[:16], eval_cont[:16]).float()
        sheet = image_grid(tensor_to_pil(torch.cat([to_float(eval_faces[:16]), rendered])), columns=16)
        (args.run_dir / "samples").mkdir(parents=True, exist_ok=True)
        sheet.save(args.run_dir / "samples" / f"step{step:06d}.png")
        record = training_record(
            args,
            world,
            device,
            run.hours,
            cpu_hours=round(run.cpu_hours, 2),
            images_seen=step * args.batch * world,
            training_faces=args.num_faces,
            steps_done=step,
            parameters=sum(p.numel() for p in model.parameters()),
            history=run.history,
            lr=args.lr,
            perceptual=args.perceptual,
            adversarial=args.adversarial,
            ema_beta=args.ema_beta,
            **({"sprite_lr_scale": args.sprite_lr_scale} if args.sprites else {}),
            **({"line_weight": args.line_weight} if args.line_weight else {}),
            **({"disc_features": args.disc_features, "disc_lr": args.disc_lr} if args.adversarial else {}),
            precision=args.precision,
            oversample=args.oversample,
            **stage,
        )
        # Every evaluation exports, so a run stopped at any time leaves its latest checkpoint; published at the end.
        save_model(copy.deepcopy(ema), args.out)
        write_training_record(args.out, record)

    while step < args.steps:
        for group in opt.param_groups:
            group["lr"] = group["lr_scale"] * warmup_cosine(step, args.lr, args.warmup, args.steps, low=args.lr * 0.02)
        if weights is None:
            idx = torch.randint(len(faces), (args.batch,), generator=data_gen)
        else:
            idx = torch.multinomial(weights, args.batch, replacement=True, generator=data_gen)
        real = to_float(faces[idx]).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            out = train_model(cat[idx].to(device), cont[idx].to(device))
            error = (out.float() - real).abs()
            loss_l1 = error.mean()
            if args.line_weight:
                pixel_weights = stroke_weights(real, args.line_weight)
                loss = (error * pixel_weights).sum() / (pixel_weights.sum() * error.shape[1])
            else:
                loss = loss_l1
            if features is not None:
                # Features of [0, 1] images; relative error per layer keeps every layer's term near 1 at start.
                got, want = features((out.float() + 1) / 2), features((real + 1) / 2)
                perceptual = sum(relative_error(got[k], want[k].float()).mean() for k in PERCEPTUAL_LAYERS)
                loss = loss + args.perceptual * perceptual / len(PERCEPTUAL_LAYERS)
            if disc is not None:
                loss = loss + args.adversarial * generator_loss(disc, out)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if disc is not None:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                disc_loss = discriminator_loss(disc, real, out)
            opt_d.zero_grad(set_to_none=True)
            disc_loss.backward()
            opt_d.step()
        with torch.no_grad():
            beta = min(args.ema_beta, (1 + step) / (10 + step))
            for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
                p_ema.lerp_(p, 1 - beta)
        step += 1
        progress.update(1)
        if step % 25 == 0:
            extra = {"disc": f"{disc_loss.item():.3f}"} if disc is not None else {}
            progress.set_postfix(l1=f"{loss_l1.item():.4f}", loss=f"{loss.item():.4f}", **extra)
        if step % args.save_every == 0 or step == args.steps:
            run.step = step
            run.save()
        if step % args.eval_every == 0 or step == args.steps:
            if rank == 0:
                evaluate_and_export()
            run.save()  # collective: every process takes part
    progress.close()
    if rank == 0:
        if not (args.out / "model.safetensors").exists():
            evaluate_and_export()
        finish_export(args.out, args.push_to_hub)
    if world > 1:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
