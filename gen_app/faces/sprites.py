"""Part sprites: the renderer's eyes, eyebrows, mouth, nose and lines as learned bitmaps, placed where facesjs places
them.

facesjs draws these parts from a fixed SVG per part id, moved to a fixed point of the face, turned by the face's
angle (eyes, eyebrows), mirrored (the second eye, eyebrow and smile line; a flipped mouth or nose) and scaled (nose,
smile lines); eye lines and misc lines (blush, freckles, forehead and chin lines) stay where their SVG puts them. A
convolutional renderer has to learn that geometry for every part id and draws the thin strokes soft; replacing the
band of the real faces that holds these parts halves the bench's EfficientNet-Lite2 distance. So each part id gets
a learned sprite (per texel: opacity, colour, and how much of the skin or hair colour it takes, since eyebrows are
drawn in the hair colour and noses in the skin colour), sampled at twice the output resolution through facesjs's own
transform and averaged down (antialiasing as the rasteriser does), then laid over the convolutional picture in
facesjs's drawing order. The fixed lines need no resampling: a bitmap per id at the output's own pixels. Hair,
glasses and hats are drawn after these parts in facesjs (and facial hair after the lines), so the convolutional
network also gives two cover maps: where one is 1, the sprites under it are hidden.

Geometry (facesjs display.js): a part whose bounding-box centre is c is drawn at x = p + R(±angle) S (u - c), p its
position in the 400x600 SVG, S a mirror and scale about the centre; the data renders the SVG's viewBox 0 70 400 400.
The sprite is that part in its own frame v = u - c, so x = p + R S v, and a learned offset per part id (mirrored with
it) covers the parts facesjs aligns by an edge instead of the centre (two noses).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from PIL import ImageColor
from torch import nn

from gen_app.faces.params import CATEGORICAL_FIELDS, CONTINUOUS_FIELDS

VIEW_X, VIEW_Y, VIEW_SIZE = 0.0, 70.0, 400.0  # the rendered square of facesjs's 400x600 SVG
# Sprite texel size in SVG units: 1.5x the resolution of a 128-px face (enough to turn a stroke without blurring it,
# and the sprites stay a seventh of the checkpoint).
TEXEL = VIEW_SIZE / 192

# Per part: facesjs positions (SVG), the sprite's texels (width, height: the largest part id's bounding box in
# facesjs's SVGs plus its strokes) and their size in SVG units if not TEXEL, the fields of its angle, flip and size,
# and the colour it takes from the face (eyebrows are drawn in the hair colour, noses in the skin colour; eyes and
# mouths in fixed colours). Smile lines are small and grow up to 2.25x with a stroke of constant width: finer texels.
PARTS = {
    "smileLine": {"positions": [(150, 435), (250, 435)], "texels": (20, 38), "texel": 1.0, "size": "smileLine.size"},
    "eye": {"positions": [(140, 310), (260, 310)], "texels": (54, 32), "angle": "eye.angle"},
    "eyebrow": {
        "positions": [(140, 270), (260, 270)],
        "texels": (44, 18),
        "angle": "eyebrow.angle",
        "tint": "hair.color",
    },
    "mouth": {"positions": [(200, 440)], "texels": (54, 26), "flip": "mouth.flip"},
    "nose": {
        "positions": [(200, 370)],
        "texels": (42, 52),
        "flip": "nose.flip",
        "size": "nose.size",
        "tint": "body.color",
    },
}
# Lines facesjs draws where their SVG puts them (no move, turn or scale): eye lines (forehead crease, under-eye
# lines) and misc lines (blush, freckles, chin and forehead lines). Each id is a learned bitmap at the output's own
# pixels over the box (SVG top, bottom, left, right) that all ids' paths span, plus their strokes.
FIXED_LINES = {"eyeLine": (246, 359, 86, 314), "miscLine": (211, 484, 96, 305)}
# facesjs's drawing order. The lines lie under the facial hair (which the convolutional picture draws), so they have
# a cover map of their own (cover channel 0); the eyes, eyebrows, mouth and nose lie over it (cover channel 1).
DRAW_ORDER = ("eyeLine", "smileLine", "miscLine", "eye", "eyebrow", "mouth", "nose")
UNDER_FACIAL_HAIR = ("eyeLine", "smileLine", "miscLine")


def _hex_rgb(value: str) -> list[float]:
    """'#rrggbb' -> RGB in [-1, 1], the renderer's range."""
    return [channel / 127.5 - 1 for channel in ImageColor.getrgb(value)]


def _premultiplied_rgba(opacity_logit: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """(N, 4, H, W): colour times opacity, then opacity, from an opacity logit (N, 1, H, W) and colour (N, 3, H, W)."""
    alpha = torch.sigmoid(opacity_logit)
    return torch.cat([colour * alpha, alpha], dim=1)


class PartSprites(nn.Module):
    """Lays learned part sprites over a rendered face: forward(image, cover, categorical, continuous) -> image."""

    def __init__(self, categorical_values: list[list], continuous_ranges: list[list[float]], resolution: int):
        super().__init__()
        self.resolution = resolution
        self.continuous_ranges = [tuple(r) for r in continuous_ranges]
        for field in ("body.color", "hair.color"):
            values = categorical_values[CATEGORICAL_FIELDS.index(field)]
            self.register_buffer(f"rgb_{field.split('.')[0]}", torch.tensor([_hex_rgb(v) for v in values]), False)
        self.textures = nn.ParameterDict()
        self.offsets = nn.ParameterDict()
        self.fields: dict[str, dict] = {}
        for name, part in PARTS.items():
            width, height = part["texels"]
            count = len(categorical_values[CATEGORICAL_FIELDS.index(f"{name}.id")])
            scales = 2 if "size" in part else 1  # a sized part keeps its stroke width: one sprite per end of its range
            # Per texel: opacity (logit), colour, and (if the part takes one) the share of the face's colour; a sized
            # part's two sprites one after the other on the channel axis (a 4-D tensor, as channels-last needs).
            channels = 5 if "tint" in part else 4
            texture = torch.zeros(count, scales * channels, height, width)
            texture[:, ::channels] = -2.0  # mostly transparent at first: the convolutional picture shows through
            self.textures[name] = nn.Parameter(texture)
            self.offsets[name] = nn.Parameter(torch.zeros(count, 2))
            flip = part.get("flip")
            true_index = categorical_values[CATEGORICAL_FIELDS.index(flip)].index(True) if flip else None
            self.fields[name] = {
                "id": CATEGORICAL_FIELDS.index(f"{name}.id"),
                "angle": CONTINUOUS_FIELDS.index(part["angle"]) if "angle" in part else None,
                "flip": (CATEGORICAL_FIELDS.index(flip), true_index) if flip else None,
                "size": CONTINUOUS_FIELDS.index(part["size"]) if "size" in part else None,
                "tint": CATEGORICAL_FIELDS.index(part["tint"]) if "tint" in part else None,
                "window": self._window(part),
            }
        self.line_bitmaps = nn.ParameterDict()
        self.line_windows: dict[str, tuple[int, int, int, int]] = {}
        to_px = resolution / VIEW_SIZE
        for name, (top, bottom, left, right) in FIXED_LINES.items():
            count = len(categorical_values[CATEGORICAL_FIELDS.index(f"{name}.id")])
            row0, row1 = (
                max(0, math.floor((top - VIEW_Y) * to_px)),
                min(resolution, math.ceil((bottom - VIEW_Y) * to_px)),
            )
            col0, col1 = (
                max(0, math.floor((left - VIEW_X) * to_px)),
                min(resolution, math.ceil((right - VIEW_X) * to_px)),
            )
            bitmap = torch.zeros(count, 4, row1 - row0, col1 - col0)  # per pixel: opacity (logit), colour
            bitmap[:, 0] = -3.0
            self.line_bitmaps[name] = nn.Parameter(bitmap)
            self.line_windows[name] = (row0, col0, row1 - row0, col1 - col0)
            self.fields[name] = {"id": CATEGORICAL_FIELDS.index(f"{name}.id")}
        self._placement_table(resolution)

    def _placement_table(self, resolution: int) -> None:
        """Per placement (a placed part at one of its positions, in drawing order), the constants of its sampling
        grid, so that all placements' grids come from one batch of small tensor operations (their count, not their
        size, is what costs on a CPU for a face or two)."""
        px = VIEW_SIZE / resolution
        rows: dict[str, list] = {key: [] for key in ("angle", "size", "flip", "side", "centre", "window", "texture")}
        self.placements: dict[str, tuple[int, int]] = {}  # part -> its placements' first and end index
        for name in (n for n in DRAW_ORDER if n in PARTS):
            part, fields = PARTS[name], self.fields[name]
            first = len(rows["side"])
            for position, (top, left, height, width) in enumerate(fields["window"]):
                side = 1.0 if position == 0 else -1.0  # the second position mirrors the first, turned the other way
                # angle in radians = a * continuous + b (an affine map of the [-1, 1] value); size likewise.
                if fields["angle"] is not None:
                    low, high = self.continuous_ranges[fields["angle"]]
                    angle = [fields["angle"], side * math.radians(high - low) / 2, side * math.radians(high + low) / 2]
                else:
                    angle = [0, 0.0, 0.0]
                if fields["size"] is not None:
                    low, high = self.continuous_ranges[fields["size"]]
                    size = [fields["size"], (high - low) / 2, (high + low) / 2]
                else:
                    size = [0, 0.0, 1.0]
                rows["angle"].append(angle)
                rows["size"].append(size)
                rows["flip"].append(list(fields["flip"]) if fields["flip"] is not None else [0, -1])  # -1: never
                rows["side"].append(side)
                x, y = part["positions"][position]
                rows["centre"].append([VIEW_X + (left + width / 2) * px - x, VIEW_Y + (top + height / 2) * px - y])
                rows["window"].append([width * px / 2, height * px / 2])
                texel = part.get("texel", TEXEL)
                rows["texture"].append([part["texels"][0] * texel / 2, part["texels"][1] * texel / 2])
            self.placements[name] = (first, len(rows["side"]))
        for key in ("angle", "size"):
            columns, slopes, intercepts = zip(*rows[key], strict=True)
            self.register_buffer(f"{key}_column", torch.tensor(columns), False)
            self.register_buffer(f"{key}_affine", torch.tensor([slopes, intercepts])[:, :, None], False)
        self.register_buffer("flip_column", torch.tensor([column for column, _ in rows["flip"]]), False)
        self.register_buffer("flip_true", torch.tensor([true for _, true in rows["flip"]])[:, None], False)
        for key in ("side", "centre", "window", "texture"):
            self.register_buffer(f"placement_{key}", torch.tensor(rows[key]), False)

    def _window(self, part: dict) -> list[tuple[int, int, int, int]]:
        """Per position, the output pixels (top, left, height, width) the sprite can reach at the data's largest
        angle and size, with a margin for its offset; one height and width for all positions, so that they are
        sampled in one batch."""
        width, height = part["texels"]
        half_w, half_h = width * part.get("texel", TEXEL) / 2, height * part.get("texel", TEXEL) / 2
        angles = self.continuous_ranges[CONTINUOUS_FIELDS.index(part["angle"])] if "angle" in part else (0.0,)
        turn = math.radians(max(map(abs, angles)))
        grow = self.continuous_ranges[CONTINUOUS_FIELDS.index(part["size"])][1] if "size" in part else 1.0
        reach_w = grow * (half_w * math.cos(turn) + half_h * math.sin(turn)) + 6
        reach_h = grow * (half_w * math.sin(turn) + half_h * math.cos(turn)) + 6
        to_px = self.resolution / VIEW_SIZE
        size_w = min(self.resolution, math.ceil(2 * reach_w * to_px) + 1)
        size_h = min(self.resolution, math.ceil(2 * reach_h * to_px) + 1)
        windows = []
        for x, y in part["positions"]:
            left = min(max(0, math.floor((x - VIEW_X - reach_w) * to_px)), self.resolution - size_w)
            top = min(max(0, math.floor((y - VIEW_Y - reach_h) * to_px)), self.resolution - size_h)
            windows.append((top, left, size_h, size_w))
        return windows

    def _premultiplied(self, name: str, categorical: torch.Tensor, continuous: torch.Tensor) -> torch.Tensor:
        """Each face's sprite (N, 4, H, W) in float32: colour times opacity, then opacity."""
        fields = self.fields[name]
        # contiguous: a pipeline may turn the textures channels-last with the convolutions, and the sampler and the
        # pooling are several times slower on that layout for these small pictures.
        texture = self.textures[name][categorical[:, fields["id"]]].float().contiguous()
        texture = texture.unflatten(1, (2 if fields["size"] is not None else 1, -1))  # (N, scales, C, H, W)
        if fields["size"] is not None:  # the size's place in its range, from the [-1, 1] value
            t = ((continuous[:, fields["size"]].float() + 1) / 2).clamp(0, 1)
            texture = torch.lerp(texture[:, 0], texture[:, 1], t[:, None, None, None])
        else:
            texture = texture[:, 0]
        colour = texture[:, 1:4]
        if fields["tint"] is not None:
            rgb = getattr(self, f"rgb_{CATEGORICAL_FIELDS[fields['tint']].split('.')[0]}")
            colour = colour + texture[:, 4:5] * rgb[categorical[:, fields["tint"]]][:, :, None, None]
        return _premultiplied_rgba(texture[:, :1], colour)

    def _affines(self, categorical: torch.Tensor, continuous: torch.Tensor) -> torch.Tensor:
        """Each placement's and face's map from its window to its sprite, in the sampler's [-1, 1] units of both
        (placements, N, 2, 3): a window point x (relative to the position p) lands on the sprite at
        v = S^-1 R^-1 (x - M d), undoing the mirrored offset d, then the turn R, then the mirror and scale S."""
        angle = continuous[:, self.angle_column].T * self.angle_affine[0] + self.angle_affine[1]  # (placements, N)
        scale = continuous[:, self.size_column].T.float() * self.size_affine[0] + self.size_affine[1]
        flipped = categorical[:, self.flip_column].T == self.flip_true
        mirror = torch.where(flipped, -self.placement_side[:, None], self.placement_side[:, None])
        by_part = {name: self.offsets[name][categorical[:, self.fields[name]["id"]]] for name in self.placements}
        offset = torch.stack([by_part[name] for name, (a, b) in self.placements.items() for _ in range(a, b)]).float()
        cos, sin = torch.cos(angle.float()), torch.sin(angle.float())
        cx = self.placement_centre[:, 0:1] - mirror * offset[..., 0]
        cy = self.placement_centre[:, 1:2] - offset[..., 1]
        hx, hy = self.placement_window[:, 0:1], self.placement_window[:, 1:2]
        inv_tx = 1 / (self.placement_texture[:, 0:1] * mirror * scale)
        inv_ty = 1 / (self.placement_texture[:, 1:2] * scale)
        entries = [cos * hx * inv_tx, sin * hy * inv_tx, (cos * cx + sin * cy) * inv_tx]
        entries += [-sin * hx * inv_ty, cos * hy * inv_ty, (cos * cy - sin * cx) * inv_ty]
        return torch.stack(entries, dim=-1).unflatten(-1, (2, 3))

    def _drawn(
        self, name: str, categorical: torch.Tensor, continuous: torch.Tensor, affines: torch.Tensor
    ) -> torch.Tensor:
        """Each face's premultiplied colour and opacity (positions, N, 4, h, w) over the part's windows."""
        if name in FIXED_LINES:
            bitmap = self.line_bitmaps[name][categorical[:, self.fields[name]["id"]]].float()
            return _premultiplied_rgba(bitmap[:, :1], bitmap[:, 1:])[None]
        sprite = self._premultiplied(name, categorical, continuous)
        first, end = self.placements[name]
        positions, (_, _, height, width) = end - first, self.fields[name]["window"][0]
        affine = affines[first:end].flatten(0, 1)
        grid = F.affine_grid(affine, [len(affine), 1, 2 * height, 2 * width], align_corners=False)
        sampled = F.grid_sample(sprite.repeat(positions, 1, 1, 1), grid, align_corners=False)
        return F.avg_pool2d(sampled, 2).unflatten(0, (positions, -1))

    def forward(
        self,
        image: torch.Tensor,
        cover: torch.Tensor,
        categorical: torch.Tensor,
        continuous: torch.Tensor,
        opacity: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`image` (N, 3, R, R) with the sprites laid over it where `cover` (N, 2, R, R, in [0, 1]: over the lines,
        over the other parts) lets them show, each face's sprites at `opacity` (N,; default 1: a morph fades one
        face's sprites into another's)."""
        training = torch.is_grad_enabled()
        # Outside autograd the picture is drawn on in place; in training each placement makes a new tensor, since
        # autograd keeps the part of the picture it read.
        image = image.float() if training else image.float().contiguous(memory_format=torch.contiguous_format)
        shown_all = 1 - cover.float()
        if opacity is not None:
            shown_all = shown_all * opacity.float()[:, None, None, None]
        affines = self._affines(categorical, continuous)
        for name in DRAW_ORDER:
            drawn = self._drawn(name, categorical, continuous, affines)
            windows = [self.line_windows[name]] if name in FIXED_LINES else self.fields[name]["window"]
            channel = 0 if name in UNDER_FACIAL_HAIR else 1
            for position, (top, left, height, width) in enumerate(windows):
                rows, cols = slice(top, top + height), slice(left, left + width)
                shown = shown_all[:, channel : channel + 1, rows, cols]
                alpha = drawn[position, :, 3:] * shown
                update = image[:, :, rows, cols] * (1 - alpha) + drawn[position, :, :3] * shown
                if training:
                    image = image.clone()
                image[:, :, rows, cols] = update
        return image
