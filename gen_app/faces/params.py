"""A facesjs face as numbers: the codec between facesjs face objects and the models' inputs.

Every facesjs face is a pure function of its parameters (the JSON beside each rendered image). The codec
turns one into
- categorical indices, one per categorical field (part ids, colours, flips, gender), and
- continuous values scaled to [-1, 1] (sizes, angles, fatness, stubble),
which the renderer draws, and into tokens (continuous fields cut into bins), which the prior models.
Its vocabularies come from the training faces and travel in each model's config.json, so the app needs no
data at run time.

Field order is the prior's sampling order: the fields a user can fix (gender, glasses, hat, facial hair,
hair, skin) come first, so fixing them is true conditional sampling of everything after.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

CATEGORICAL_FIELDS = (
    "gender",
    "body.color",
    "glasses.id",
    "accessories.id",
    "facialHair.id",
    "hair.id",
    "hair.color",
    "hairBg.id",
    "head.id",
    "ear.id",
    "eye.id",
    "eyebrow.id",
    "nose.id",
    "mouth.id",
    "eyeLine.id",
    "smileLine.id",
    "miscLine.id",
    "body.id",
    "jersey.id",
    "hair.flip",
    "mouth.flip",
    "nose.flip",
)
CONTINUOUS_FIELDS = (
    "fatness",
    "head.shave",
    "ear.size",
    "eye.angle",
    "eyebrow.angle",
    "nose.size",
    "smileLine.size",
    "body.size",
)
CONTINUOUS_BINS = 16  # the prior's resolution for a continuous field; the renderer sees the exact value


def _get(face: dict, field: str):
    """The value of a dotted field ("hair.id") in a face record ({"gender": ..., "face": {...}})."""
    if field == "gender":
        return face["gender"]
    value = face["face"]
    for key in field.split("."):
        value = value[key]
    if field == "head.shave":  # "rgba(0,0,0,0.14)": only the alpha varies
        return float(re.findall(r"[\d.]+", value)[-1])
    return value


def _set(face: dict, field: str, value) -> None:
    if field == "gender":
        face["gender"] = value
        return
    *path, last = field.split(".")
    node = face["face"]
    for key in path:
        node = node.setdefault(key, {})
    node[last] = f"rgba(0,0,0,{value:.2f})" if field == "head.shave" else value


@dataclass(frozen=True)
class FaceCodec:
    categorical_values: tuple[tuple, ...]  # per categorical field, its values (JSON scalars)
    continuous_ranges: tuple[tuple[float, float], ...]  # per continuous field, (min, max) in the data

    @classmethod
    def fit(cls, records: Iterable[dict]) -> FaceCodec:
        """Vocabularies and ranges from face records (the training set)."""
        values: list[set] = [set() for _ in CATEGORICAL_FIELDS]
        low = [math.inf] * len(CONTINUOUS_FIELDS)
        high = [-math.inf] * len(CONTINUOUS_FIELDS)
        for record in records:
            for i, field in enumerate(CATEGORICAL_FIELDS):
                values[i].add(_get(record, field))
            for i, field in enumerate(CONTINUOUS_FIELDS):
                x = float(_get(record, field))
                low[i], high[i] = min(low[i], x), max(high[i], x)
        ordered = tuple(tuple(sorted(v, key=lambda x: (str(type(x)), x))) for v in values)
        return cls(ordered, tuple(zip(low, high, strict=True)))

    @classmethod
    def from_config(cls, categorical_values: list[list], continuous_ranges: list[list[float]]) -> FaceCodec:
        return cls(tuple(tuple(v) for v in categorical_values), tuple(tuple(r) for r in continuous_ranges))

    def config(self) -> dict:
        """JSON-able lists (config.json sorts dict keys, so no dicts whose order matters)."""
        return {
            "categorical_values": [list(v) for v in self.categorical_values],
            "continuous_ranges": [list(r) for r in self.continuous_ranges],
        }

    def values_of(self, field: str) -> tuple:
        """The values of categorical field `field` (e.g. "glasses.id")."""
        return self.categorical_values[CATEGORICAL_FIELDS.index(field)]

    @property
    def categorical_sizes(self) -> list[int]:
        return [len(v) for v in self.categorical_values]

    # ---- the renderer's input
    def encode(self, record: dict) -> tuple[list[int], list[float]]:
        """(categorical indices, continuous values in [-1, 1]) of one face record."""
        categorical = [self.categorical_values[i].index(_get(record, f)) for i, f in enumerate(CATEGORICAL_FIELDS)]
        continuous = [self._scale(i, float(_get(record, f))) for i, f in enumerate(CONTINUOUS_FIELDS)]
        return categorical, continuous

    def _scale(self, i: int, x: float) -> float:
        low, high = self.continuous_ranges[i]
        return 0.0 if high == low else max(-1.0, min(1.0, 2 * (x - low) / (high - low) - 1))

    def decode(self, categorical: list[int], continuous: list[float]) -> dict:
        """A face record ({"gender", "face"}) from indices and [-1, 1] values: the facesjs JSON of a generated
        face (facesjs's team colours are fixed in this data, so they are left out)."""
        face: dict = {"gender": None, "face": {}}
        for i, field in enumerate(CATEGORICAL_FIELDS):
            _set(face, field, self.categorical_values[i][categorical[i]])
        for i, field in enumerate(CONTINUOUS_FIELDS):
            low, high = self.continuous_ranges[i]
            _set(face, field, round(low + (continuous[i] + 1) / 2 * (high - low), 3))
        return face

    # ---- the prior's tokens: one per field, each field with its own block of the vocabulary
    @property
    def token_sizes(self) -> list[int]:
        return self.categorical_sizes + [CONTINUOUS_BINS] * len(CONTINUOUS_FIELDS)

    def tokens(self, categorical: list[int], continuous: list[float]) -> list[int]:
        """Per field, the index within its block (continuous values fall into CONTINUOUS_BINS equal bins)."""
        bins = [min(CONTINUOUS_BINS - 1, int((x + 1) / 2 * CONTINUOUS_BINS)) for x in continuous]
        return list(categorical) + bins

    @staticmethod
    def bin_value(index: int, offset: float) -> float:
        """The [-1, 1] value at `offset` (0..1) inside continuous bin `index`."""
        return -1 + 2 * (index + offset) / CONTINUOUS_BINS


def read_records(jsonl_text: str, limit: int | None = None) -> list[dict]:
    lines = [line for line in jsonl_text.splitlines() if line.strip()][:limit]
    return [json.loads(line) for line in lines]
