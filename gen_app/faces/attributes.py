"""Face attributes read from facesjs face objects: the generator's conditioning labels and the benchmark's.

Six attributes, each a small set of classes that stay visible at 64 px. facesjs has 51 hair ids, none more
than ~5% of faces, so hair is grouped into families that look alike; its 11 skin colours into four tones.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HAIR_FAMILIES = {
    "long": {f"female{i}" for i in range(1, 13)},
    "curly": {"curly", "curly2", "curly3", "afro", "afro2"},
    "shaggy": {"shaggy1", "shaggy2", "emo", "longHair"},
    "short": {"short", "short2", "short3"},
}
# Luminance edges between the four skin tones: the quartiles of facesjs's 11 skin colours over the faces.
SKIN_EDGES = (0.47, 0.70, 0.78)

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "gender": ("female", "male"),
    "glasses": ("none", "glasses"),
    "facial hair": ("none", "facial hair"),
    "hat/accessory": ("none", "accessory"),
    "hair style": (*HAIR_FAMILIES, "other"),
    "skin tone": ("darkest", "dark", "light", "lightest"),
}


def skin_luminance(hex_color: str) -> float:
    """Relative luminance (Rec. 709 weights) of a '#rrggbb' colour."""
    r, g, b = (int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def hair_family(hair_id: str) -> int:
    for index, ids in enumerate(HAIR_FAMILIES.values()):
        if hair_id in ids:
            return index
    return len(HAIR_FAMILIES)  # "other"


# The facesjs field (see params.py) that decides each attribute.
ATTRIBUTE_FIELDS = {
    "gender": "gender",
    "glasses": "glasses.id",
    "facial hair": "facialHair.id",
    "hat/accessory": "accessories.id",
    "hair style": "hair.id",
    "skin tone": "body.color",
}


def attribute_class(name: str, value: str) -> int:
    """The class index of attribute `name` for its field's value (e.g. "hair style", "female3" -> "long")."""
    if name == "gender":
        return ATTRIBUTES["gender"].index(value)
    if name == "hair style":
        return hair_family(value)
    if name == "skin tone":
        return int(np.searchsorted(SKIN_EDGES, skin_luminance(value)))
    return int(value != "none")


def face_labels(record: dict) -> list[int]:
    """One class index per attribute, in ATTRIBUTES order, for one rendered face's JSON record."""
    values = {"gender": record["gender"]}
    for name, field in ATTRIBUTE_FIELDS.items():
        if name != "gender":
            part, key = field.split(".")
            values[name] = record["face"][part][key]
    return [attribute_class(name, values[name]) for name in ATTRIBUTES]


def load_labels(jsonl: Path, limit: int | None = None) -> np.ndarray:
    """Labels of the faces in a render's .jsonl file, shape (N, len(ATTRIBUTES)), int64."""
    lines = [line for line in jsonl.read_text().splitlines() if line.strip()][:limit]
    return np.array([face_labels(json.loads(line)) for line in lines], dtype=np.int64)
