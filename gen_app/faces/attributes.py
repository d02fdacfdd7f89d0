"""Face attributes read from facesjs face objects: the generator's conditioning labels and the benchmark's.

Six attributes, each a small set of classes that stay visible at 64 px. facesjs has 51 hair ids, none more
than ~5% of faces, so hair is grouped into families that look alike; its 11 skin colours into four tones.
An attribute names what a face shows: a short cut with long hair behind the head (facesjs's `hairBg`, which also
shows below a cap that hides the cut) looks long, and is labelled long; a short cut under a cap does not show, and is
labelled other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import ImageColor

HAIR_FAMILIES = {
    "long": {f"female{i}" for i in range(1, 13)},
    "curly": {"curly", "curly2", "curly3", "afro", "afro2"},
    "shaggy": {"shaggy1", "shaggy2", "emo", "longHair"},
    # The close crops: facesjs's short, crop and fade cuts look alike (with `short3` alone against `crop` & co. in
    # "other", the bench's classifier found 60% of real short cuts; with the crops together, 94%).
    "short": {"short", "short2", "short3", "crop", "crop-fade", "crop-fade2", "short-fade", "short-fade-2"},
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
    r, g, b = (channel / 255 for channel in ImageColor.getrgb(hex_color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def hair_family(hair_id: str) -> int:
    for index, ids in enumerate(HAIR_FAMILIES.values()):
        if hair_id in ids:
            return index
    return len(HAIR_FAMILIES)  # "other"


# The facesjs field (see params.py) that decides each attribute, given the other fields CLASS_REQUIREMENTS names.
ATTRIBUTE_FIELDS = {
    "gender": "gender",
    "glasses": "glasses.id",
    "facial hair": "facialHair.id",
    "hat/accessory": "accessories.id",
    "hair style": "hair.id",
    "skin tone": "body.color",
}


class Requirement(NamedTuple):
    """What other fields a class needs (field -> allowed values), and the class the face shows without them."""

    fields: dict[str, tuple[str, ...]]
    otherwise: str


# Classes that their field's value alone does not make, each with what it needs, checked in order. Fixing such a
# class fixes those fields too (FacePipeline), so every face drawn for it shows it. A short cut shows only with no hair
# behind the head (hairBg, which shows below a cap too: the face looks long-haired) and no hat over it (facesjs draws
# a cap on a third of its close crops, 80% of its `short` ones, and the cap hides the whole cut: the hair that shows
# is none of the families).
CLASS_REQUIREMENTS: dict[tuple[str, str], tuple[Requirement, ...]] = {
    ("hair style", "short"): (
        Requirement({"hairBg.id": ("none",)}, otherwise="long"),
        Requirement({"accessories.id": ("none", "eye-black", "headband", "headband-high")}, otherwise="other"),
    ),
}


def attribute_class(name: str, value: str) -> int:
    """The class index of attribute `name` for its field's value (e.g. "hair style", "female3" -> "long"), for a
    face whose other fields hold what CLASS_REQUIREMENTS asks of that class (face_labels checks them)."""
    if name == "gender":
        return ATTRIBUTES["gender"].index(value)
    if name == "hair style":
        return hair_family(value)
    if name == "skin tone":
        return int(np.searchsorted(SKIN_EDGES, skin_luminance(value)))
    return int(value != "none")


def _field(record: dict, field: str) -> str:
    if field == "gender":
        return record["gender"]
    part, key = field.split(".")
    return record["face"][part][key]


def face_labels(record: dict) -> list[int]:
    """One class index per attribute, in ATTRIBUTES order, for one rendered face's JSON record."""
    labels = []
    for name, field in ATTRIBUTE_FIELDS.items():
        label = attribute_class(name, _field(record, field))
        for needs in CLASS_REQUIREMENTS.get((name, ATTRIBUTES[name][label]), ()):
            if any(_field(record, other) not in values for other, values in needs.fields.items()):
                label = ATTRIBUTES[name].index(needs.otherwise)
                break
        labels.append(label)
    return labels


def load_labels(jsonl: Path, limit: int | None = None) -> np.ndarray:
    """Labels of the faces in a render's .jsonl file, shape (N, len(ATTRIBUTES)), int64."""
    lines = [line for line in jsonl.read_text().splitlines() if line.strip()][:limit]
    return np.array([face_labels(json.loads(line)) for line in lines], dtype=np.int64)
