"""The shared pieces of train/ (flags, commands, stage chains, card front matter) and the layering rules of train/
and bench/: both import gen_app, neither imports the other, and nothing sets up import paths by hand."""

import argparse
import ast
from pathlib import Path

import pytest
import yaml

from train.common import (
    ROOT,
    add_common_args,
    card_front_matter,
    current_command,
    stage_chain,
)


def python_files(folder: str) -> list[Path]:
    return [p for p in sorted((ROOT / folder).rglob("*.py")) if "node_modules" not in p.parts]


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a file imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(("folder", "forbidden"), [("train", "bench"), ("bench", "train")])
def test_imports_run_one_way(folder, forbidden):
    offenders = [p.relative_to(ROOT).as_posix() for p in python_files(folder) if forbidden in imported_packages(p)]
    assert not offenders, f"{folder}/ must not import {forbidden}/: {offenders}"


def test_no_import_path_set_up():
    offenders = [
        p.relative_to(ROOT).as_posix()
        for p in python_files("train") + python_files("bench")
        if "sys.path" in p.read_text()
    ]
    assert not offenders


def test_every_task_has_data_train_and_card_modules():
    for task in ("sr", "style", "text", "synth", "melody"):
        assert {"__init__.py", "data.py", "train.py", "card.py"} <= {p.name for p in (ROOT / "train" / task).iterdir()}
        assert "def write_card(" in (ROOT / "train" / task / "card.py").read_text()


def test_recorded_commands_read_as_they_run_today():
    assert current_command("python train/train_sr.py --scale 4 --init-from checkpoints/sr-x4") == (
        "python -m train.sr.train --scale 4 --init-from checkpoints/sr-x4"
    )
    assert current_command("torchrun --nproc_per_node 2 train/train_text.py --steps 3") == (
        "torchrun --nproc_per_node 2 -m train.text.train --steps 3"
    )
    # Prose around a command, and commands that did not move, are kept as they are.
    prose = "from `python train/build_sr_data.py --crops 8` and `python train/train_faces.py`"
    assert current_command(prose) == "from `python -m train.sr.data --crops 8` and `python train/train_faces.py`"
    assert current_command("python -m train.sr.train --scale 2") == "python -m train.sr.train --scale 2"


def test_stage_chain_lists_the_oldest_stage_first():
    record = {"command": "c", "previous_stage": {"command": "b", "previous_stage": {"command": "a"}}}
    assert [stage["command"] for stage in stage_chain(record)] == ["a", "b", "c"]
    assert stage_chain({"command": "only"}) == [{"command": "only"}]


def test_card_front_matter_is_yaml():
    header = card_front_matter(["super-resolution", "pytorch_model_hub_mixin"], pipeline_tag="image-to-image")
    assert header.startswith("---\n") and header.endswith("---\n")
    assert yaml.safe_load(header.strip("-\n")) == {
        "license": "apache-2.0",
        "library_name": "gen_app",
        "pipeline_tag": "image-to-image",
        "tags": ["super-resolution", "pytorch_model_hub_mixin"],
    }


def test_common_flags_and_their_defaults():
    parser = argparse.ArgumentParser()
    add_common_args(parser, task="text", steps=10, batch=4, lr=1e-3, eval_every=5)
    args = parser.parse_args(["--threads", "2"])
    assert (args.steps, args.batch, args.lr, args.warmup, args.eval_every, args.seed) == (10, 4, 1e-3, 200, 5, 0)
    assert args.run_dir == ROOT / "runs/text" and args.out == ROOT / "checkpoints/text" and args.threads == 2
    assert not hasattr(args, "init_from") and args.push_to_hub is None
    parser = argparse.ArgumentParser()
    flags = {"steps": 1, "batch": 1, "lr": 1, "eval_every": 1}
    add_common_args(parser, task="sr-x<scale>", **flags, init_from=True, default_paths=False)
    args = parser.parse_args(["--init-from", "checkpoints/sr-x4"])
    assert args.init_from == Path("checkpoints/sr-x4") and args.run_dir is None and args.out is None
