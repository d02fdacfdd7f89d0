"""Face generation pipeline: seeds and settings in, PIL images out. Usable without Gradio:

from gen_app.faces.pipeline import FacePipeline
pipe = FacePipeline.load()
faces = pipe.generate(seed=42, count=4, temperature=0.8)

Two models: the prior (prior.py) draws a face's parameters from a seed, the renderer (renderer.py) draws the
picture. Attributes and parts restrict the prior's choices; variations keep a face's parameters and redraw
a few; morphs walk between two faces in the renderer's input embedding.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from gen_app.device import cpu_threads
from gen_app.faces.attributes import ATTRIBUTE_FIELDS, ATTRIBUTES, CLASS_REQUIREMENTS, attribute_class
from gen_app.faces.params import CATEGORICAL_FIELDS, CONTINUOUS_FIELDS, FaceCodec
from gen_app.faces.prior import FacePrior
from gen_app.faces.renderer import FaceRenderer, SpriteLayer
from gen_app.images import tensor_to_pil
from gen_app.limits import InvalidInput, check_float, check_int
from gen_app.loading import CHECKPOINTS, load_model
from gen_app.seeding import MAX_SEED, seed_range

MAX_FACES = 16
MAX_MORPH_FRAMES = 48
TEMPERATURE_RANGE = (0.0, 1.5)  # 0: every part at its most likely value; 1: the training distribution
VARIATION_RANGE = (0.05, 1.0)  # the share of a face's parameters that a variation redraws
RANDOM = "random"  # the attribute or part value that leaves the choice to the seed
DISPLAY_SIZE = 256  # faces are shown and saved at twice the model's 128 px, pixel for pixel (no blur)
# With a choice made, each face draws this many unconstrained starts of its parameters and keeps the first that
# fits (FacePrior.sample): enough for a 7% choice (glasses) to find one in 99% of faces; 16 faces cost ~1,000 rows.
PREFIX_PROPOSALS = 64
# The parts a user can choose, by label; each is one facesjs field.
PARTS = {
    "hair": "hair.id",
    "hair colour": "hair.color",
    "head shape": "head.id",
    "eyes": "eye.id",
    "eyebrows": "eyebrow.id",
    "nose": "nose.id",
    "mouth": "mouth.id",
    "glasses style": "glasses.id",
    "headwear": "accessories.id",
    "facial hair style": "facialHair.id",
    "skin colour": "body.color",
}


@dataclass
class Faces:
    images: list[Image.Image]
    seeds: list[int]
    params: dict = field(default_factory=dict)
    faces: list[dict] = field(default_factory=list)  # each face's facesjs parameters

    def metadata(self, each: list[dict] | None = None) -> list[dict]:
        """Per image, what its saved PNG records (the app's downloads and the CLI alike): the settings, the image's
        own entry of `each` (default: its seed) and its facesjs parameters."""
        each = each if each is not None else [{"seed": seed} for seed in self.seeds]
        return [{**self.params, **own, "face": face} for own, face in zip(each, self.faces, strict=True)]


@dataclass
class Drawn:
    """Faces as parameters: per-field indices (N, fields) and continuous values in [-1, 1] (N, fields)."""

    categorical: torch.Tensor
    continuous: torch.Tensor


def render_precision(device: torch.device) -> torch.dtype:
    """bfloat16 where the hardware computes it natively (CUDA; CPUs with AVX512-BF16 or AMX: 1.8x faster here), else
    float32 (emulated bf16 would be slower). The two agree to 52 dB PSNR on the shipped renderer's faces."""
    if device.type == "cuda":
        return torch.bfloat16
    if device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _check_offered(kind: str, name: str, offered: dict, every: dict) -> None:
    """Raise a clear InvalidInput if `name` is not among the offered attributes or parts (`kind`): unknown, or
    known but not drawn by this renderer."""
    if name in offered:
        return
    known = ", ".join(offered)
    if name in every:
        raise InvalidInput(f"This model cannot draw the {name} {kind} yet, so it is not offered; the {kind}s: {known}.")
    raise InvalidInput(f"Unknown {kind} {name!r}; the {kind}s: {known}.")


class FacePipeline:
    def __init__(
        self,
        renderer: FaceRenderer,
        prior: FacePrior,
        origins: dict[str, str] | None = None,
        folders: dict[str, Path] | None = None,
        precision: torch.dtype | None = None,
    ):
        # Channels-last: oneDNN's convolutions run on it natively, so no layout conversions between layers (16 faces:
        # 1.3-1.4x faster on this CPU).
        self.renderer, self.prior = renderer.to(memory_format=torch.channels_last), prior
        # Per model ("faces", "faces-prior"): where its weights came from, and their folder (with its card).
        self.origins = origins or {"faces": "checkpoints/faces", "faces-prior": "checkpoints/faces-prior"}
        self.folders = folders or {task: CHECKPOINTS / task for task in self.origins}
        self.origin = " + ".join(self.origins.values())
        self.codec = FaceCodec.from_config(renderer.categorical_values, renderer.continuous_ranges)
        if prior.token_sizes != self.codec.token_sizes:
            raise ValueError("the face prior and renderer were trained with different parameter vocabularies")
        self.device = next(renderer.parameters()).device
        self.precision = precision or render_precision(self.device)
        # Autocast casts every convolution's and linear layer's weights to the reduced precision on every call (a
        # millisecond of a one-face request here); faces are drawn by a copy that holds them cast already: the same
        # numbers, so the same faces. self.renderer keeps float32 for everything else.
        self.drawer = self.renderer
        if self.precision != torch.float32:
            self.drawer = copy.deepcopy(self.renderer)
            for module in self.drawer.modules():
                if isinstance(module, (nn.Linear, nn.Conv2d)):
                    module.to(self.precision)
        self.undrawn = dict(renderer.undrawn)  # field -> the value that matches what the renderer draws
        self.undrawn_values = {f: set(values) for f, values in renderer.undrawn_values.items()}  # never drawn
        listed = [*self.undrawn.items(), *((f, v) for f, values in self.undrawn_values.items() for v in values)]
        for field_name, value in listed:
            if field_name not in CATEGORICAL_FIELDS or value not in self.codec.values_of(field_name):
                raise ValueError(f"the renderer's undrawn {field_name}={value!r} is not in its vocabulary")
        # Per field index, the values the prior may draw at all: an undrawn field's one value; a field's values but
        # the undrawn ones. A plain mask on every draw (not a choice to condition on, so it costs nothing).
        self.support = {
            CATEGORICAL_FIELDS.index(f): torch.tensor([v not in values for v in self.codec.values_of(f)])
            for f, values in self.undrawn_values.items()
        }
        for f, value in self.undrawn.items():
            self.support[CATEGORICAL_FIELDS.index(f)] = torch.tensor([v == value for v in self.codec.values_of(f)])

    @classmethod
    def load(cls, device: torch.device | None = None) -> FacePipeline:
        renderer, origin, folder = load_model(FaceRenderer, "faces", device)
        # The prior is tiny and samples one field at a time: the CPU is faster for it than any accelerator.
        prior, prior_origin, prior_folder = load_model(FacePrior, "faces-prior", torch.device("cpu"))
        origins = {"faces": origin, "faces-prior": prior_origin}
        return cls(renderer, prior, origins, {"faces": folder, "faces-prior": prior_folder})

    @property
    def attributes(self) -> dict[str, list[str]]:
        """The attributes a user can fix, with their classes: those the renderer draws."""
        return {
            name: list(classes) for name, classes in ATTRIBUTES.items() if ATTRIBUTE_FIELDS[name] not in self.undrawn
        }

    @property
    def parts(self) -> dict[str, list[str]]:
        """The parts a user can choose, with their values (facesjs ids and colours): those the renderer draws."""
        return {
            label: [str(v) for v in self.codec.values_of(f) if v not in self.undrawn_values.get(f, ())]
            for label, f in PARTS.items()
            if f not in self.undrawn
        }

    def _allowed(self, attributes: dict[str, str | None] | None, parts: dict[str, str | None] | None) -> dict:
        """Per field index, the bool mask of values the user's choices allow (fields left free are absent), within
        the values the renderer draws (self.support)."""
        allowed: dict[int, torch.Tensor] = {}

        def restrict(field_name: str, keep: list[bool], what: str) -> None:
            f = CATEGORICAL_FIELDS.index(field_name)
            mask = torch.tensor(keep) & allowed.get(f, self.support.get(f, torch.ones(len(keep), dtype=torch.bool)))
            if not mask.any():
                raise InvalidInput(f"No face fits both {what} and the other choices; leave one of them random.")
            allowed[f] = mask

        for name, value in (attributes or {}).items():
            if value in (None, "", RANDOM):
                continue
            _check_offered("attribute", name, self.attributes, ATTRIBUTES)
            if value not in ATTRIBUTES[name]:
                raise InvalidInput(f"{name} must be one of {', '.join([RANDOM, *ATTRIBUTES[name]])}; got {value!r}.")
            wanted = ATTRIBUTES[name].index(value)
            values = self.codec.values_of(ATTRIBUTE_FIELDS[name])
            restrict(ATTRIBUTE_FIELDS[name], [attribute_class(name, v) == wanted for v in values], f"{name} {value}")
            for needs in CLASS_REQUIREMENTS.get((name, value), ()):
                for other, wanted_values in needs.fields.items():
                    restrict(other, [str(v) in wanted_values for v in self.codec.values_of(other)], f"{name} {value}")
        for label, value in (parts or {}).items():
            if value in (None, "", RANDOM):
                continue
            _check_offered("part", label, self.parts, PARTS)
            choices = self.parts[label]
            if value not in choices:
                raise InvalidInput(
                    f"{label} must be {RANDOM} or one of the model's {len(choices)} values; got {value!r}."
                )
            restrict(PARTS[label], [str(v) == value for v in self.codec.values_of(PARTS[label])], f"{label} {value}")
        return allowed

    def _draw(self, seeds: list[int], temperature: float, allowed: dict) -> Drawn:
        """Each seed's face parameters, from a random stream of its own (so batch position never matters)."""
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        tokens = self.sample_parameters(generators, temperature, allowed, PREFIX_PROPOSALS)
        return self._from_tokens(tokens, generators, temperature)

    def sample_parameters(
        self, generators: list[torch.Generator], temperature: float, allowed: dict, proposals: int = 0
    ) -> torch.Tensor:
        """The prior's per-field indices (N, fields), one face per generator, within the values the renderer draws
        and `allowed` (see FacePrior.sample): the first half of every face (the bench times it alone)."""
        # One thread: the prior's steps are tiny (30 fields, a few rows), and a second thread only waits for a core
        # that may be busy elsewhere (3-5x slower under load, here).
        with cpu_threads(1, torch.device("cpu")):
            return self.prior.sample(generators, temperature, allowed, proposals, self.support)

    def _from_tokens(self, tokens: torch.Tensor, generators: list[torch.Generator], temperature: float) -> Drawn:
        n_cat = len(CATEGORICAL_FIELDS)
        # A continuous value is a point in its bin: the bin's middle at temperature 0, anywhere in it at >= 1.
        spread = min(1.0, temperature)
        offsets = torch.stack(
            [0.5 + spread * (torch.rand(len(CONTINUOUS_FIELDS), generator=g) - 0.5) for g in generators]
        )
        continuous = FaceCodec.bin_value(tokens[:, n_cat:].double(), offsets.double()).float()
        return Drawn(tokens[:, :n_cat].clone(), continuous)

    def _layer(self, drawn: Drawn, opacity: torch.Tensor | None = None) -> SpriteLayer:
        """`drawn`'s faces as a sprite layer on the renderer's device."""
        to = None if opacity is None else opacity.to(self.device)
        return SpriteLayer(drawn.categorical.to(self.device), drawn.continuous.to(self.device), to)

    @torch.inference_mode()
    def _draw_images(self, e: torch.Tensor, layers: list[SpriteLayer]) -> torch.Tensor:
        """The renderer's images (N, 3, R, R) in float32 for embeddings `e` with the sprites of `layers` (a sprite
        renderer's parts), computed in self.precision."""
        with torch.autocast(self.device.type, dtype=self.precision, enabled=self.precision != torch.float32):
            return self.drawer.render(e.to(self.device), layers).float()

    def _render(self, e: torch.Tensor, layers: list[SpriteLayer]) -> list[Image.Image]:
        images = tensor_to_pil(self._draw_images(e, layers))
        return [image.resize((DISPLAY_SIZE, DISPLAY_SIZE), Image.NEAREST) for image in images]

    def _embed(self, drawn: Drawn) -> torch.Tensor:
        with torch.inference_mode():
            return self.renderer.embed(drawn.categorical.to(self.device), drawn.continuous.to(self.device))

    def _records(self, drawn: Drawn) -> list[dict]:
        return [
            self.codec.decode(c, x) for c, x in zip(drawn.categorical.tolist(), drawn.continuous.tolist(), strict=True)
        ]

    @staticmethod
    def _settings(attributes: dict | None, parts: dict | None) -> dict:
        chosen = {k: v for k, v in {**(attributes or {}), **(parts or {})}.items() if v not in (None, "", RANDOM)}
        return {"choices": chosen}

    def _params(self, **values: object) -> dict:
        """Metadata for outputs: model, weights and settings."""
        return {"model": "gen_app/faces", "weights": self.origin, "resolution": self.renderer.resolution, **values}

    @torch.inference_mode()
    def sample(self, seeds: list[int], temperature: float = 1.0) -> torch.Tensor:
        """Faces for `seeds` at the model's resolution, (N, 3, R, R) in [-1, 1]: what generate() shows, before
        the display resize (for benchmarks)."""
        drawn = self._draw(seeds, temperature, self._allowed(None, None))
        return self._draw_images(self._embed(drawn), [self._layer(drawn)])

    def generate(
        self,
        seed: int,
        count: int = 1,
        temperature: float = 1.0,
        attributes: dict[str, str | None] | None = None,
        parts: dict[str, str | None] | None = None,
    ) -> Faces:
        """`count` faces for seeds seed, seed+1, ...; temperature < 1 gives more typical faces. `attributes`
        fixes attributes by class name (e.g. {"glasses": "glasses"}), `parts` facesjs parts by value."""
        seed = check_int("Seed", seed, 0, MAX_SEED)
        count = check_int("Number of faces", count, 1, MAX_FACES)
        temperature = check_float("Temperature", temperature, *TEMPERATURE_RANGE)
        seeds = seed_range(seed, count)
        drawn = self._draw(seeds, temperature, self._allowed(attributes, parts))
        params = self._params(seed=seed, count=count, temperature=temperature, **self._settings(attributes, parts))
        return Faces(self._render(self._embed(drawn), [self._layer(drawn)]), seeds, params, self._records(drawn))

    def variations(
        self,
        seed: int,
        count: int = 8,
        amount: float = 0.25,
        temperature: float = 1.0,
        attributes: dict[str, str | None] | None = None,
        parts: dict[str, str | None] | None = None,
    ) -> Faces:
        """More like seed's face: the first image is that face, each other keeps its parameters but redraws
        about `amount` of the free ones (conditioned on the rest) and nudges its sizes and angles."""
        seed = check_int("Seed", seed, 0, MAX_SEED)
        count = check_int("Number of faces", count, 2, MAX_FACES)
        amount = check_float("Variation", amount, *VARIATION_RANGE)
        temperature = check_float("Temperature", temperature, *TEMPERATURE_RANGE)
        allowed = self._allowed(attributes, parts)
        base = self._draw([seed], temperature, allowed)
        base_tokens = torch.tensor(
            [self.codec.tokens(c, x) for c, x in zip(base.categorical.tolist(), base.continuous.tolist(), strict=True)]
        )
        fields = len(self.codec.token_sizes)
        free = [f for f in range(fields) if f not in allowed]
        rows = [base]
        for i in range(1, count):
            g = torch.Generator().manual_seed(seed * 1_000 + i)  # a stream per variation, apart from the seed's
            redraw = {f for f in free if torch.rand(1, generator=g).item() < amount}
            keep = {
                f: torch.nn.functional.one_hot(base_tokens[0, f], self.codec.token_sizes[f]).bool()
                for f in range(fields)
                if f not in redraw
            }
            tokens = self.sample_parameters(
                [g], temperature, {**keep, **{f: m for f, m in allowed.items() if f in redraw}}
            )
            drawn = self._from_tokens(tokens, [g], temperature)
            kept = [f - len(CATEGORICAL_FIELDS) for f in keep if f >= len(CATEGORICAL_FIELDS)]
            nudge = (torch.rand(len(CONTINUOUS_FIELDS), generator=g) - 0.5) * 0.2 * amount
            drawn.continuous[0, kept] = (base.continuous[0, kept] + nudge[kept]).clamp(-1, 1)
            rows.append(drawn)
        drawn = Drawn(torch.cat([r.categorical for r in rows]), torch.cat([r.continuous for r in rows]))
        params = self._params(
            seed=seed, count=count, amount=amount, temperature=temperature, **self._settings(attributes, parts)
        )
        return Faces(self._render(self._embed(drawn), [self._layer(drawn)]), [seed], params, self._records(drawn))

    def morph(
        self,
        seed_a: int,
        seed_b: int,
        frames: int = 16,
        temperature: float = 1.0,
        attributes: dict[str, str | None] | None = None,
        parts: dict[str, str | None] | None = None,
    ) -> Faces:
        """`frames` faces moving from seed_a's face to seed_b's along a straight line in the renderer's input
        embedding."""
        seed_a = check_int("Start seed", seed_a, 0, MAX_SEED)
        seed_b = check_int("End seed", seed_b, 0, MAX_SEED)
        frames = check_int("Frames", frames, 2, MAX_MORPH_FRAMES)
        temperature = check_float("Temperature", temperature, *TEMPERATURE_RANGE)
        allowed = self._allowed(attributes, parts)
        ends = self._draw([seed_a, seed_b], temperature, allowed)
        e_a, e_b = self._embed(ends)
        # torch.lerp is exact at t=0 and t=1, so the end frames are the seeds' own faces; a sprite renderer's parts
        # fade from the first face's sprites to the second's (at the ends, one face's sprites at full opacity).
        t = torch.linspace(0, 1, frames)
        layers = [
            self._layer(Drawn(ends.categorical[i].expand(frames, -1), ends.continuous[i].expand(frames, -1)), opacity)
            for i, opacity in ((0, 1 - t), (1, t))
        ]
        images = self._render(torch.lerp(e_a[None], e_b[None], t.to(e_a.device)[:, None]), layers)
        params = self._params(
            seed_a=seed_a, seed_b=seed_b, frames=frames, temperature=temperature, **self._settings(attributes, parts)
        )
        return Faces(images, [seed_a, seed_b], params)
