"""Load each tab's model from the Hugging Face Hub or from the embedded `checkpoints/<task>/`.

Order, per task:
1. a Hub repo id, from `GEN_APP_<TASK>_REPO` or else `gen_app/models.json`: downloaded with the normal Hub
   cache (so `HF_HUB_OFFLINE=1` works once cached; `HF_ENDPOINT` points at a mirror);
2. if the Hub cannot be reached or lacks the files, `checkpoints/<task>/`, with a logged warning;
3. with no repo id configured, `checkpoints/<task>/` (the default: a fresh clone runs offline).

Weights are safetensors only and load with `strict=True`: a checkpoint that misses or adds a tensor is an
error, never a silently half-initialised model.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
from torch import nn

from gen_app.device import pick_device

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"
MODELS_CONFIG = Path(__file__).resolve().parent / "models.json"
WEIGHT_FILES = ("config.json", "model.safetensors")

M = TypeVar("M", bound=nn.Module)


@dataclass(frozen=True)
class HubSource:
    repo_id: str
    revision: str = "main"


def hub_source(task: str) -> HubSource | None:
    """The Hub repo configured for `task`, if any (environment first, then models.json)."""
    env = os.environ.get(f"GEN_APP_{task.upper().replace('-', '_')}_REPO")
    if env is not None:
        return HubSource(env) if env.strip() else None
    entry = json.loads(MODELS_CONFIG.read_text()).get(task) or {}
    return HubSource(entry["repo_id"], entry.get("revision", "main")) if entry.get("repo_id") else None


def download(source: HubSource, files: tuple[str, ...]) -> Path:
    """Fetch `files` of `source` into the Hub cache; returns the snapshot folder."""
    paths = [hf_hub_download(source.repo_id, name, revision=source.revision) for name in files]
    return Path(paths[0]).parent


def checkpoint_dir(task: str, extra_files: tuple[str, ...] = ()) -> tuple[Path, str]:
    """Where `task`'s weights (and `extra_files`, e.g. a tokenizer) come from: (folder, readable origin)."""
    source = hub_source(task)
    local = CHECKPOINTS / task
    if source is None:
        return local, f"checkpoints/{task}"
    try:
        return download(source, WEIGHT_FILES + extra_files), f"hf.co/{source.repo_id}@{source.revision}"
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as error:
        # OSError covers connection failures; the Hub client raises it for unreachable hosts.
        log.warning("could not load %s from the Hub (%s); using checkpoints/%s", source.repo_id, error, task)
        return local, f"checkpoints/{task} (Hub {source.repo_id} unreachable)"


def load_model(
    model_class: type[M], task: str, device: torch.device | None = None, extra_files: tuple[str, ...] = ()
) -> tuple[M, str, Path]:
    """`task`'s model (a PyTorchModelHubMixin class) in eval mode on `device`, its origin, and its folder."""
    folder, origin = checkpoint_dir(task, extra_files)
    model = model_class.from_pretrained(folder, strict=True)
    device = device or pick_device()
    if torch.device(device).type == "cpu":
        torch.set_flush_denormal(True)  # denormal values slow CPU convolutions and GRUs by 10-50x
    model = model.to(device).eval().requires_grad_(False)
    log.info("loaded %s from %s", task, origin)
    return model, origin, folder
