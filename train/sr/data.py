"""Build the super-resolution crop set from the photos in Debian's wallpaper packages.

    sudo apt-get install lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds plasma-workspace-wallpapers \
        gcompris-qt-data
    python -m train.sr.data          # data/sr/{hr,lr2,lr4}.npy (uint8), ~0.7 GB, ~2 minutes
    python -m train.sr.data --crop-size 256 --crops 8000 --out data/sr256   # the x4 model's set, ~2 GB

Every distinct JPEG photo of 1000 px or more in /usr/share/backgrounds and /usr/share/wallpapers (the
packages above; CC-BY-4.0 / CC-BY-SA / CC0 / GPL-2+ per file, see /usr/share/doc/<package>/copyright) is
shrunk (PIL bicubic, antialiased) to 1/2, 1/3 and 1/4 of its size: wallpapers of 2-6K pixels are so soft
at full size that bicubic upscaling already restores most crops (40-55 dB), while shrunk they have the
detail density of ordinary photos (25-35 dB, like the validation photos). From each, random square
high-resolution crops (--crop-size, 128 px by default) are cut, in proportion to area; crops that bicubic
x4 already restores well (PSNR > 35 dB: sky, blur, flat colour) are kept only 1 time in 10, since they
teach little. The low-resolution inputs are the crops downscaled by PIL bicubic (the degradation the models
are trained for): 1/2 of the crop's side for x2, 1/4 for x4. Larger crops (--crop-size 256) let training use larger
patches, so more of each patch's pixels see the network's whole receptive field, as they do in a photo.

Second source, for everyday subjects (animals, fur, buildings, people) like the validation photos': the
114 WebP photos (1024-1920 px; CC-BY-SA / CC0 / public domain per file, see the package's copyright file)
inside GCompris's explore_monuments, explore_world_animals, explore_farm_animals, explore_world_music and
erase activity files (Qt .rcc; train/photos.py reads both sources), shrunk to 700 and 512 px on
their longest side; they get --gcompris-share of the crops.

The validation photos (scikit-image and scikit-learn wheels) are never used here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from train.common import ROOT, command_line
from train.photos import PHOTO_FOLDERS, gcompris_photos, photo_paths

SHRINK = (2, 3, 4)
GCOMPRIS_SIDES = (700, 512)
EASY_PSNR = 35.0  # crops that bicubic x4 restores better than this (dB) are kept only 1 time in 10


def bicubic_psnr(low: Image.Image, crop: np.ndarray) -> float:
    """PSNR (dB) of `low` upscaled back by bicubic against `crop`: high means there is little to restore."""
    up = np.asarray(low.resize((crop.shape[1], crop.shape[0]), Image.BICUBIC), dtype=np.float64)
    mse = ((up - crop)[4:-4, 4:-4] ** 2).mean()
    return float(10 * np.log10(255**2 / max(mse, 1e-6)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "data/sr")
    p.add_argument("--crops", type=int, default=12_000, help="total number of crops")
    p.add_argument("--crop-size", type=int, default=128, help="side of the high-resolution crops (multiple of 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--photos", type=Path, nargs="+", default=PHOTO_FOLDERS, help="folders searched for JPEGs")
    p.add_argument("--gcompris-share", type=float, default=0.4, help="share of crops from GCompris photos (0: none)")
    args = p.parse_args()
    if args.crop_size % 4:
        raise SystemExit("--crop-size must be a multiple of 4")
    size = args.crop_size
    rng = np.random.default_rng(args.seed)
    paths = photo_paths(tuple(args.photos))
    if not paths:
        raise SystemExit("no photos found: install the Debian wallpaper packages listed in this script's doc")
    sources = []
    for path in paths:
        image = Image.open(path).convert("RGB")
        for factor in SHRINK:
            small = image.resize((image.width // factor, image.height // factor), Image.BICUBIC)
            sources.append((path, f"1/{factor}", np.asarray(small)))
    extra = []
    for name, image in gcompris_photos() if args.gcompris_share > 0 else []:
        for side in GCOMPRIS_SIDES:
            factor = max(image.size) / side
            small = image.resize((round(image.width / factor), round(image.height / factor)), Image.BICUBIC)
            extra.append((name, f"{side} px", np.asarray(small)))
    share = args.gcompris_share if extra else 0.0
    counts = []
    for group, crops in ((sources, args.crops * (1 - share)), (extra, args.crops * share)):
        areas = np.array([a.shape[0] * a.shape[1] for _, _, a in group], dtype=float)
        counts += np.maximum(1, np.round(crops * areas / areas.sum())).astype(int).tolist() if group else []
    sources += extra
    hr, lr2, lr4, manifest = [], [], [], []
    for (path, shrunk, array), count in zip(sources, counts, strict=True):
        taken = tries = 0
        fits = min(array.shape[:2]) >= size  # a shrunk photo smaller than the crop gives none
        while fits and taken < count and tries < count * 20:
            tries += 1
            y = rng.integers(0, array.shape[0] - size + 1)
            x = rng.integers(0, array.shape[1] - size + 1)
            crop = array[y : y + size, x : x + size]
            image = Image.fromarray(crop)
            low4 = image.resize((size // 4, size // 4), Image.BICUBIC)
            if bicubic_psnr(low4, crop) > EASY_PSNR and rng.random() > 0.1:
                continue
            hr.append(crop)
            lr2.append(np.asarray(image.resize((size // 2, size // 2), Image.BICUBIC)))
            lr4.append(np.asarray(low4))
            taken += 1
        manifest.append(f"{path}\t{shrunk}\t{array.shape[1]}x{array.shape[0]}\t{taken}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, arrays in (("hr", hr), ("lr2", lr2), ("lr4", lr4)):
        np.save(args.out / f"{name}.npy", np.stack(arrays))
    (args.out / "sources.tsv").write_text("path\tsize\tpixels\tcrops\n" + "\n".join(manifest) + "\n")
    # train/sr/train.py copies this into the checkpoint's training.json, so its card can say how the data was made.
    (args.out / "command.txt").write_text(command_line() + "\n")
    print(f"{len(hr):,} crops from {len(paths)} wallpapers and {len(extra) // 2} GCompris photos -> {args.out}")


if __name__ == "__main__":
    main()
