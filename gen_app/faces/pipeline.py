"""Face generation pipeline: seeds and settings in, PIL images out. Usable without Gradio:

from gen_app.faces.pipeline import FacePipeline
pipe = FacePipeline.load()
faces = pipe.generate(seed=42, count=4, psi=0.7)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from PIL import Image

from gen_app.faces.model import FaceGenerator
from gen_app.images import tensor_to_pil
from gen_app.limits import InvalidInput, check_float, check_int
from gen_app.loading import load_model
from gen_app.seeding import MAX_SEED, latents, seed_range

MAX_FACES = 16
MAX_MORPH_FRAMES = 48
PSI_RANGE = (0.0, 1.5)
RANDOM = "random"  # the attribute value that leaves the choice to the seed
DISPLAY_SIZE = 256  # faces are upscaled (Lanczos) from the model's resolution for display and download


@dataclass
class Faces:
    images: list[Image.Image]
    seeds: list[int]
    params: dict = field(default_factory=dict)


class FacePipeline:
    def __init__(self, model: FaceGenerator, origin: str = "checkpoints/faces"):
        self.model = model
        self.origin = origin
        self.device = next(model.parameters()).device

    @classmethod
    def load(cls, device: torch.device | None = None) -> FacePipeline:
        model, origin, _ = load_model(FaceGenerator, "faces", device)
        return cls(model, origin)

    def _params(self, attributes: dict[str, int], **values: object) -> dict:
        """Metadata for outputs: model, weights, settings, and the attributes fixed by name."""
        fixed = {name: self.attributes[name][i] for name, i in attributes.items()}
        model = {"model": "gen_app/faces", "weights": self.origin, "resolution": self.model.resolution}
        return {**model, **values, "attributes": fixed}

    @torch.inference_mode()
    def _render(self, w: torch.Tensor) -> list[Image.Image]:
        images = tensor_to_pil(self.model.synthesize(w.to(self.device)))
        return [image.resize((DISPLAY_SIZE, DISPLAY_SIZE), Image.LANCZOS) for image in images]

    @property
    def attributes(self) -> dict[str, list[str]]:
        """The attributes a user can fix (empty for an unconditional checkpoint), with their classes."""
        return self.model.attributes

    def _overrides(self, attributes: dict[str, str | None] | None) -> dict[str, int]:
        """Class indices for the attributes fixed by name; None or "random" leaves one to the seed."""
        overrides = {}
        for name, value in (attributes or {}).items():
            if value in (None, "", RANDOM):
                continue
            if name not in self.attributes:
                raise InvalidInput(f"Unknown attribute {name!r}; this model knows: {', '.join(self.attributes)}.")
            classes = self.attributes[name]
            if value not in classes:
                raise InvalidInput(f"{name} must be one of {', '.join([RANDOM, *classes])}; got {value!r}.")
            overrides[name] = classes.index(value)
        return overrides

    @torch.inference_mode()
    def _w(self, seeds: list[int], psi: float, overrides: dict[str, int]) -> torch.Tensor:
        labels = self.model.sample_labels(seeds, overrides)
        return self.model.map(latents(seeds, self.model.z_dim, self.device), labels, psi)

    def describe(self, seed: int, overrides: dict[str, int] | None = None) -> dict[str, str]:
        """The attribute classes a seed's face was drawn with."""
        labels = self.model.sample_labels([seed], overrides)[0].tolist()
        return {name: classes[i] for (name, classes), i in zip(self.attributes.items(), labels, strict=True)}

    def generate(
        self, seed: int, count: int = 1, psi: float = 0.7, attributes: dict[str, str | None] | None = None
    ) -> Faces:
        """`count` faces for seeds seed, seed+1, ...; psi < 1 trades variety for typical, cleaner faces.
        `attributes` fixes some attributes by class name (e.g. {"glasses": "glasses"}); the rest are random."""
        seed = check_int("Seed", seed, 0, MAX_SEED)
        count = check_int("Number of faces", count, 1, MAX_FACES)
        psi = check_float("Truncation ψ", psi, *PSI_RANGE)
        overrides = self._overrides(attributes)
        seeds = seed_range(seed, count)
        images = self._render(self._w(seeds, psi, overrides))
        return Faces(images, seeds, self._params(seed=seed, count=count, psi=psi, attributes=overrides))

    def morph(
        self,
        seed_a: int,
        seed_b: int,
        frames: int = 16,
        psi: float = 0.7,
        attributes: dict[str, str | None] | None = None,
    ) -> Faces:
        """`frames` faces moving from seed_a's face to seed_b's along a straight line in w space."""
        seed_a = check_int("Start seed", seed_a, 0, MAX_SEED)
        seed_b = check_int("End seed", seed_b, 0, MAX_SEED)
        frames = check_int("Frames", frames, 2, MAX_MORPH_FRAMES)
        psi = check_float("Truncation ψ", psi, *PSI_RANGE)
        overrides = self._overrides(attributes)
        w_a, w_b = self._w([seed_a, seed_b], psi, overrides)
        # torch.lerp is exact at t=0 and t=1, so the end frames are the seeds' own faces.
        t = torch.linspace(0, 1, frames, device=w_a.device)[:, None]
        images = self._render(torch.lerp(w_a[None], w_b[None], t))
        params = self._params(seed_a=seed_a, seed_b=seed_b, frames=frames, psi=psi, attributes=overrides)
        return Faces(images, [seed_a, seed_b], params)
