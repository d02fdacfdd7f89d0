"""Write checkpoints/faces/README.md (the model card) and its sample sheet.

    python train/faces_card.py [--checkpoint checkpoints/faces]

Reads <checkpoint>/training.json (written by train_faces.py) and, when present, <checkpoint>/metrics.json
(written by `python bench/faces.py --json checkpoints/faces/metrics.json`), so the card always quotes the
figures of the weights next to it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gen_app.faces.model import FaceGenerator  # noqa: E402
from gen_app.images import image_grid, tensor_to_pil  # noqa: E402
from gen_app.seeding import latents  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def sample_sheets(model: FaceGenerator, out: Path) -> None:
    """samples.png: seeds 0..31 at psi 1; morph.png: seed 1 -> seed 2 in eight steps."""
    with torch.inference_mode():
        seeds = list(range(32))
        faces = model(latents(seeds, model.z_dim), model.sample_labels(seeds), psi=1.0)
        image_grid(tensor_to_pil(faces), columns=8).resize((8 * 96, 4 * 96)).save(out / "samples.png")
        w = model.map(latents([1, 2], model.z_dim), model.sample_labels([1, 2]), psi=1.0)
        path = torch.lerp(w[:1], w[1:], torch.linspace(0, 1, 8)[:, None])
        image_grid(tensor_to_pil(model.synthesize(path)), columns=8).resize((8 * 96, 96)).save(out / "morph.png")


def metrics_section(metrics: dict | None) -> str:
    if not metrics:
        return "Not measured yet: run `python bench/faces.py --json checkpoints/faces/metrics.json`."
    command = "python bench/faces.py --json checkpoints/faces/metrics.json"
    fd = {row["features"].split(" (")[0]: row["ratio"] for row in metrics["fd"] if row["psi"] == 1.0}
    gap = max(metrics["frequencies"]["max_gap_pp"])
    passed = all(r <= metrics["targets"]["fd_ratio_max"] for r in fd.values()) and gap <= 5
    status = (
        f"**Against the floor** (FD ratio ≤ 2.0, attribute frequencies within 5 points): "
        f"{'met' if passed else 'not met yet'}. FD ratios at ψ = 1: "
        + ", ".join(f"{name} {ratio:.1f}" for name, ratio in fd.items())
        + f"; largest attribute-frequency gap {gap:.1f} points.\n\n"
    )
    return status + f"Output of `{command}` (CPU):\n\n```text{metrics['report'].rstrip()}\n```"


def write_card(checkpoint: Path) -> Path:
    model = FaceGenerator.from_pretrained(checkpoint, strict=True).eval()
    config = json.loads((checkpoint / "config.json").read_text())
    training = json.loads((checkpoint / "training.json").read_text())
    metrics_file = checkpoint / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else None
    params = sum(p.numel() for p in model.parameters())
    sample_sheets(model, checkpoint)
    res = config["resolution"]
    attribute_list = "; ".join(
        f"{name}: {' / '.join(classes)}"
        for name, classes in zip(config["attribute_names"], config["attribute_classes"], strict=True)
    )
    card = f"""---
license: apache-2.0
library_name: gen_app
pipeline_tag: unconditional-image-generation
tags:
- gan
- faces
- cartoon
- pytorch_model_hub_mixin
---
# gen_app faces: a {res}×{res} style-based GAN for cartoon faces

## Summary
A GAN generator trained from scratch, in this repository, on {training["training_faces"]:,} procedurally drawn
cartoon faces (npm `facesjs`). {params / 1e6:.2f} M parameters; one face per seed, with truncation ψ, smooth
morphs between seeds, and six attributes that can be fixed or left to the seed ({attribute_list}).
It runs in milliseconds on a CPU. Outputs are {res}×{res} (the app shows them at 256×256).

![32 sample faces, seeds 0-31, ψ = 1](samples.png)

Morph from seed 1 to seed 2 (straight line in w space):

![morph](morph.png)

## Metrics
Validation data: 10,000 held-out facesjs faces (seeds 1,000,000-1,009,999), never used in training.
Baseline: the real-vs-real floor (two disjoint sets of real faces of the same size).

{metrics_section(metrics)}

## Architecture
- Mapping network: {config["mapping_layers"]}-layer MLP, z ({config["z_dim"]}) → w ({config["w_dim"]}), He-initialised.
  The attribute labels enter it as summed, normalised embeddings concatenated with z (as in conditional
  StyleGAN2-ADA). Unless the user fixes them, labels are drawn per seed from the joint label distribution of
  the training faces ({len(config["label_combos"])} distinct combinations, stored in config.json), so a seed
  alone fixes a face and unconditioned samples follow the data's attribute frequencies.
- Synthesis: learned 4×4 constant, then per resolution bilinear ×2 upsampling and two 3×3 convolutions, each
  followed by instance normalisation and a per-channel scale and shift computed from w (AdaIN, StyleGAN-1);
  widths {config["channels"]} from 4×4 to {res}×{res}; a 1×1 convolution to RGB.
- Truncation: w' = w̄ + ψ (w − w̄), w̄ a running mean of w during training (ψ = 0 gives the mean face).
- Discriminator (training only, `train/train_faces.py`): DCGAN-style strided convolutions with spectral
  normalisation, a minibatch-stddev feature and a projection head for the labels (Miyato & Koyama 2018);
  hinge loss; Adam (lr 2e-4, β = (0, 0.99)); the shipped weights are an exponential moving average
  (β = 0.999) of the generator's.

## Training data
`facesjs` 5.0.3 from npm (Apache-2.0), rendered to PNG by `@resvg/resvg-js` 2.6.2 (MPL-2.0) at 128 px with a
square head crop, downscaled to {res} px: `python train/build_faces_data.py` (seeds 0-29,999; deterministic).

## Training
- Command: `{training["command"]}` (after `python train/build_faces_data.py`)
- {training["steps"]:,} steps × batch {training["batch_per_process"]} × {training["processes"]} process(es)
  = {training["images_seen"]:,} images; seed {training["seed"]}.
- Hardware: {training["device"]}; {training["training_hours"]} h of training.
- Data-parallel: `torchrun --nproc_per_node N train/train_faces.py ...` (gloo on CPU, nccl on CUDA, bf16 on CUDA).

## Use
```python
from gen_app.faces.pipeline import FacePipeline

faces = FacePipeline.load().generate(seed=42, count=4, psi=1.0)  # PIL images
```
or, with only this folder: `FaceGenerator.from_pretrained("checkpoints/faces", strict=True)` (gen_app/faces/model.py).

## Limitations
Cartoon faces in the facesjs style only, at {res}×{res}. Attributes are those six coarse classes (51 facesjs
hair styles are grouped into five families); finer features (eyes, mouths, hat shapes) come from the seed.
An unconditional variant is no longer shipped: without labels, this small GAN dropped whole kinds of faces
(long hair, hats) within the CPU budget, which conditioning fixed. Generated images carry an "AI-generated"
mark in their PNG metadata in the app.
"""
    path = checkpoint / "README.md"
    path.write_text(card)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints/faces")
    print(f"wrote {write_card(p.parse_args().checkpoint)}")


if __name__ == "__main__":
    main()
