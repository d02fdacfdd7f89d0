"""The rendered facesjs sets (python -m train.faces.data) as tensors: images at a chosen resolution and the
codec's inputs. Training and the bench both read the data through these functions, so both see exactly the
same downscaling; each full set's downscaled copy is cached beside the data so later runs start in seconds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gen_app.faces.params import FaceCodec, read_records


def load_faces(path: Path, resolution: int, limit: int | None = None) -> torch.Tensor:
    """The rendered faces as uint8 (N, 3, resolution, resolution), downscaled with antialiasing; the full set at
    each resolution is cached as `<path>.<resolution>.npy`."""
    stored = int(json.loads(path.with_suffix(".json").read_text())["size"])
    cache = path.with_name(f"{path.stem}.{resolution}.npy")
    if limit is None and stored != resolution and cache.exists():
        return torch.from_numpy(np.load(cache))
    raw = np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, stored, stored, 3)
    raw = raw[:limit] if limit else raw
    out = torch.empty((len(raw), 3, resolution, resolution), dtype=torch.uint8)
    for i in range(0, len(raw), 512):
        chunk = torch.from_numpy(np.array(raw[i : i + 512])).permute(0, 3, 1, 2).float()
        if stored != resolution:
            chunk = F.interpolate(chunk, size=resolution, mode="bilinear", antialias=True, align_corners=False)
        out[i : i + 512] = chunk.round().clamp(0, 255).to(torch.uint8)
    if limit is None and stored != resolution:
        np.save(cache, out.numpy())
    return out


def load_params(jsonl: Path, codec: FaceCodec, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(categorical int64 (N, fields), continuous float32 (N, fields)) of the faces in a render's .jsonl."""
    encoded = [codec.encode(r) for r in read_records(jsonl.read_text(), limit)]
    categorical = torch.tensor([c for c, _ in encoded], dtype=torch.long)
    continuous = torch.tensor([x for _, x in encoded], dtype=torch.float32)
    return categorical, continuous
