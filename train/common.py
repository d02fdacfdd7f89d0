"""What every training script and card writer shares: the common flags, process-group and run set-up, crash-safe
saving of training state, the training record, and the pieces of a model card (front matter, stage chain, commands).

The training loops themselves stay in each task's train.py, written out in full.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent

# Scripts as they were recorded before each task got its own package (issue 16), and the modules they are now.
MOVED_SCRIPTS = {
    "train/build_sr_data.py": "train.sr.data",
    "train/train_sr.py": "train.sr.train",
    "train/sr_card.py": "train.sr.card",
    "train/build_style_data.py": "train.style.data",
    "train/build_style_images.py": "train.style.paintings",
    "train/train_style.py": "train.style.train",
    "train/style_card.py": "train.style.card",
    "train/build_text_data.py": "train.text.data",
    "train/train_text.py": "train.text.train",
    "train/text_card.py": "train.text.card",
    "train/build_audio_data.py": "train.synth.data",
    "train/train_synth.py": "train.synth.train",
    "train/fit_envelopes.py": "train.synth.fit_envelopes",
    "train/build_audio_examples.py": "train.synth.examples",
    "train/synth_card.py": "train.synth.card",
    "train/build_melody_data.py": "train.melody.data",
    "train/train_melody.py": "train.melody.train",
    "train/melody_card.py": "train.melody.card",
    "train/build_faces_data.py": "train.faces.data",
}


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
    the step, training seconds (wall-clock, and this process's CPU time), the metrics history and every process's RNG
    state, in `path`."""

    def __init__(self, path: Path, parts: dict, rank: int, world: int, device: torch.device):
        self.path, self.parts, self.rank, self.world, self.device = path, parts, rank, world, device
        self.step, self.seconds_before, self.cpu_seconds_before, self.history = 0, 0.0, 0.0, []
        self.started, self.cpu_started = time.time(), time.process_time()

    def resume(self) -> None:
        state = load_state(self.path, self.device)
        if state is None:
            return
        for name, part in self.parts.items():
            part.load_state_dict(state[name])
        self.step, self.seconds_before = state["step"], state["train_seconds"]
        self.cpu_seconds_before = state.get("train_cpu_seconds", 0.0)
        self.history = json.loads(state.get("history", "[]"))
        torch.set_rng_state(state["rng"][self.rank % len(state["rng"])])
        if self.rank == 0:
            print(f"resumed from {self.path} at step {self.step}", flush=True)

    @property
    def hours(self) -> float:
        return (self.seconds_before + time.time() - self.started) / 3600

    @property
    def cpu_hours(self) -> float:
        """CPU time of all the process's threads: unlike the wall-clock, it does not grow when other work on the
        machine takes the cores (divided by the thread count: the hours the run needs on a quiet machine)."""
        return (self.cpu_seconds_before + time.process_time() - self.cpu_started) / 3600

    def save(self) -> None:
        """Collective (every rank calls it, for the RNG states); rank 0 writes."""
        rngs = gather_rng_states(self.world)
        if self.rank == 0:
            state = {name: part.state_dict() for name, part in self.parts.items()}
            state |= {"step": self.step, "train_seconds": self.hours * 3600, "train_cpu_seconds": self.cpu_hours * 3600}
            state |= {"history": json.dumps(self.history)}
            save_state(state | {"rng": rngs}, self.path)


def add_common_args(
    p: argparse.ArgumentParser,
    *,
    task: str,
    steps: int,
    batch: int,
    lr: float,
    eval_every: int,
    warmup: int = 200,
    init_from: bool = False,
    default_paths: bool = True,
) -> None:
    """The flags the training scripts share, with the task's defaults: --steps, --batch, --lr, --warmup,
    --eval-every, (--init-from), --seed, --threads, --run-dir, --out, --push-to-hub. --run-dir and --out default
    to runs/<task> and checkpoints/<task>; with default_paths=False they default to None, for the script to fill
    in after parsing (`task` then only names them in the help)."""
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch", type=int, default=batch, help="per-process batch size")
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--warmup", type=int, default=warmup)
    p.add_argument("--eval-every", type=int, default=eval_every)
    if init_from:
        p.add_argument("--init-from", type=Path, default=None, help="checkpoint folder to take matching tensors from")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="CPU threads per process (0: torch default)")
    run_dir, out = (ROOT / "runs" / task, ROOT / "checkpoints" / task) if default_paths else (None, None)
    p.add_argument("--run-dir", type=Path, default=run_dir, help=f"training state, to resume (default: runs/{task})")
    p.add_argument(
        "--out", type=Path, default=out, help=f"checkpoint folder written at the end (default: checkpoints/{task})"
    )
    p.add_argument("--push-to-hub", metavar="REPO", default=None, help="also publish the checkpoint to this repo")


def start_process(args: argparse.Namespace, flush_denormal: bool = False) -> tuple[int, int, torch.device]:
    """(rank, world size, device), with the process's thread count (--threads) and seed (--seed + rank) set.
    flush_denormal: on a CPU, flush denormals (they slow convolutions 10-50x once losses converge)."""
    rank, world, device = setup_distributed()
    if args.threads:
        torch.set_num_threads(args.threads)
    if flush_denormal and device.type == "cpu":
        torch.set_flush_denormal(True)
    torch.manual_seed(args.seed + rank)
    return rank, world, device


def setup_run(
    args: argparse.Namespace, parts: dict, rank: int, world: int, device: torch.device, summary: str
) -> tuple[RunState, torch.nn.Module, torch.Generator, tqdm]:
    """Everything between building the model and the training loop. `parts` are what the run saves and resumes
    (parts["model"] is the network being trained); --run-dir holds them. Returns the resumed RunState, the model to
    call in the loop (wrapped for data-parallel training when there are several processes), the batch sampler's
    generator (seeded by seed, rank and the step resumed at) and the progress bar. Rank 0 prints the parameter
    count and `summary`."""
    run = RunState(args.run_dir / "state.pt", parts, rank, world, device)
    run.resume()
    model = parts["model"]
    train_model = DistributedDataParallel(model) if world > 1 else model
    if rank == 0:
        params = sum(p.numel() for p in model.parameters())
        print(f"{params / 1e6:.3f} M parameters, {summary}, {world} process(es)", flush=True)
    generator = torch.Generator().manual_seed(args.seed * 1000 + rank + run.step)
    progress = tqdm(total=args.steps, initial=run.step, disable=rank != 0, dynamic_ncols=True)
    return run, train_model, generator, progress


def command_line() -> str:
    """This process's command, as it would be typed: `python -m train.sr.train --scale 4` (run as a module, also
    under torchrun -m), else `python <script path> ...`."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    program = f"-m {spec.name}" if spec is not None else Path(sys.argv[0]).as_posix()
    return " ".join(["python", program, *sys.argv[1:]])


def training_record(args, world: int, device: torch.device, hours: float, **extra) -> dict:
    """The fields every checkpoint's training.json carries (the model cards quote them), then `extra`."""
    return {
        "command": command_line(),
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


def export_checkpoint(
    model: torch.nn.Module, args: argparse.Namespace, record: dict, also_write: Callable[[Path], None] | None = None
) -> None:
    """The end of a run (rank 0): the model and `record` (its training.json) into --out, plus what `also_write`
    writes there (e.g. a tokenizer), then the folder published to --push-to-hub when given."""
    save_model(model, args.out)
    if also_write is not None:
        also_write(args.out)
    write_training_record(args.out, record)
    finish_export(args.out, args.push_to_hub)


def current_command(recorded: str) -> str:
    """A command from a training record, as it runs today: script paths that have since moved become `-m <module>`
    (`python train/train_sr.py --scale 4` -> `python -m train.sr.train --scale 4`). Other text is kept as is."""
    return " ".join(f"-m {MOVED_SCRIPTS[word]}" if word in MOVED_SCRIPTS else word for word in recorded.split(" "))


def stage_chain(record: dict) -> list[dict]:
    """A checkpoint's training record and the records of the stages it started from (`previous_stage`, nested),
    oldest first: the last item is `record` itself."""
    chain = []
    while record:
        chain.append(record)
        record = record.get("previous_stage")
    return chain[::-1]


def card_front_matter(tags: list[str], pipeline_tag: str | None = None) -> str:
    """The YAML header of a model card (the Hub reads it): licence, library, pipeline tag, tags."""
    lines = ["---", "license: apache-2.0", "library_name: gen_app"]
    lines += [f"pipeline_tag: {pipeline_tag}"] if pipeline_tag else []
    lines += [f"tags: [{', '.join(tags)}]", "---"]
    return "\n".join(lines) + "\n"


def save_card(folder: Path, card: str) -> Path:
    """Write `card` as folder/README.md (the model card, which the app's About panel and the Hub show)."""
    path = folder / "README.md"
    path.write_text(card)
    return path
