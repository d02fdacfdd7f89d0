"""Pieces every training script shares: process-group setup and crash-safe saving of training state."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist


def setup_distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device). Under torchrun: a process group (nccl on CUDA, gloo on CPU)."""
    if "RANK" not in os.environ:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def gather_rng_states(world: int) -> list[torch.Tensor]:
    """Every process's CPU RNG state (collective: all ranks must call it)."""
    state = torch.get_rng_state()
    if world == 1:
        return [state]
    states = [torch.empty_like(state) for _ in range(world)]
    dist.all_gather_object(states, state)
    return states


def save_state(state: dict, path: Path) -> None:
    """Write via a temporary file, so a run killed mid-save keeps its previous state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_state(path: Path, device: torch.device) -> dict | None:
    """The saved training state (tensors and plain values only: weights_only), or None."""
    return torch.load(path, map_location=device, weights_only=True) if path.exists() else None


def push_folder(folder: Path, repo_id: str) -> None:
    """Publish a checkpoint folder (weights, config, model card, sample images) to a Hub model repo."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True)
    api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="Upload from gen_app/train")
    print(f"pushed {folder} to https://huggingface.co/{repo_id}", flush=True)


class RunState:
    """A run's resumable state: named parts (modules, optimizers: anything with state_dict / load_state_dict),
    the step, training seconds, the metrics history and every process's RNG state, in `path`."""

    def __init__(self, path: Path, parts: dict, rank: int, world: int, device: torch.device):
        self.path, self.parts, self.rank, self.world, self.device = path, parts, rank, world, device
        self.step, self.seconds_before, self.history = 0, 0.0, []
        self.started = time.time()

    def resume(self) -> None:
        state = load_state(self.path, self.device)
        if state is None:
            return
        for name, part in self.parts.items():
            part.load_state_dict(state[name])
        self.step, self.seconds_before = state["step"], state["train_seconds"]
        self.history = json.loads(state.get("history", "[]"))
        torch.set_rng_state(state["rng"][self.rank % len(state["rng"])])
        if self.rank == 0:
            print(f"resumed from {self.path} at step {self.step}", flush=True)

    @property
    def hours(self) -> float:
        return (self.seconds_before + time.time() - self.started) / 3600

    def save(self) -> None:
        """Collective (every rank calls it, for the RNG states); rank 0 writes."""
        rngs = gather_rng_states(self.world)
        if self.rank == 0:
            state = {name: part.state_dict() for name, part in self.parts.items()}
            state |= {"step": self.step, "train_seconds": self.hours * 3600, "history": json.dumps(self.history)}
            save_state(state | {"rng": rngs}, self.path)


def training_record(args, world: int, device: torch.device, hours: float, **extra) -> dict:
    """The fields every checkpoint's training.json carries (the model cards quote them), then `extra`."""
    return {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "steps": args.steps,
        "batch_per_process": args.batch,
        "processes": world,
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU ({torch.get_num_threads()} threads)",
        "training_hours": round(hours, 2),
        "seed": args.seed,
        **extra,
    }


def warmup_cosine(
    step: int, peak: float, warmup: int, total_steps: int, low: float = 0.0, done: float | None = None
) -> float:
    """Learning rate: linear warm-up to `peak` over `warmup` steps, then cosine decay to `low` as the run goes
    from 0 to 1 done (by steps after the warm-up, or `done` when given: time-budgeted runs)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if done is None:
        done = (step - warmup) / max(1, total_steps - warmup)
    return low + 0.5 * (peak - low) * (1 + math.cos(math.pi * min(1.0, done)))


def init_from_checkpoint(model: torch.nn.Module, folder: Path, rank: int) -> None:
    """Copy into `model` every tensor of the checkpoint in `folder` whose name and shape match (a warm start:
    e.g. the SR body for another scale, or an earlier stage of a run whose architecture changed)."""
    source = type(model).from_pretrained(folder).state_dict()
    own = model.state_dict()
    matched = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matched, strict=False)
    if rank == 0:
        print(f"initialised {len(matched)}/{len(own)} tensors from {folder}", flush=True)


def save_model(model: torch.nn.Module, out: Path) -> None:
    """The model on the CPU in float32 and eval mode, as model.safetensors + config.json in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    model.to("cpu").float().eval().save_pretrained(out)


def previous_stage(init_from: Path | None, run_dir: Path) -> dict:
    """{"previous_stage": its training record} for a run started from another checkpoint; else {}. Call it
    before the export overwrites `init_from` (it may be the output folder): the record is also kept in
    `run_dir`, so exporting a finished run again still names the stage it started from, not itself."""
    kept = run_dir / "previous_stage.json"
    if kept.exists():
        return json.loads(kept.read_text())
    record = init_from / "training.json" if init_from is not None else None
    stage = {"previous_stage": json.loads(record.read_text())} if record is not None and record.exists() else {}
    run_dir.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps(stage, indent=2) + "\n")
    return stage


def write_training_record(out: Path, record: dict) -> None:
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")


def finish_export(out: Path, push_to_hub: str | None) -> None:
    print(f"wrote {out}", flush=True)
    if push_to_hub:
        push_folder(out, push_to_hub)
