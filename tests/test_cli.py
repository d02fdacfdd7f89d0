"""The command line (python -m gen_app ...): every command makes its files with the app's metadata, and a bad value
ends with one error line and exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
from PIL import Image

from gen_app.cli import main
from gen_app.faces.pipeline import MAX_FACES
from gen_app.images import read_png_parameters

ROOT = Path(__file__).resolve().parent.parent
SR_EXAMPLES = sorted((ROOT / "gen_app" / "sr" / "examples").glob("*.png"))
PHOTO = ROOT / "gen_app" / "style" / "examples" / "chelsea.jpg"


@pytest.mark.parametrize("command", ["faces", "text", "upscale", "paint", "compose"])
def test_help_of_each_command(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and f"usage: python -m gen_app {command}" in out and "--out" in out


def test_faces_in_batches_with_the_apps_metadata(tmp_path, capsys, face_pipeline):
    count = MAX_FACES + 2  # more than one call of the pipeline
    assert main(["faces", "--seed", "7", "--count", str(count), "--out", str(tmp_path)]) == 0
    files = sorted(tmp_path.glob("face-*.png"))
    assert len(files) == count and {f.name for f in files} == {f"face-{s}.png" for s in range(7, 7 + count)}
    last = read_png_parameters(tmp_path / f"face-{6 + count}.png")
    app = face_pipeline.generate(seed=6 + count, count=1).metadata()[0]  # what the app's PNG of that seed records
    assert last["seed"] == app["seed"] and last["face"] == app["face"] and last["weights"] == app["weights"]
    assert Image.open(files[0]).size == face_pipeline.generate(seed=7).images[0].size


def test_text_streams_to_stdout_and_writes_the_same_to_a_file(tmp_path, capsys):
    options = ["text", "--prompt", "ROMEO:\n", "--max-new-tokens", "24", "--seed", "3"]
    assert main(options) == 0
    streamed = capsys.readouterr().out
    assert main([*options, "--out", str(tmp_path / "scene.txt")]) == 0
    written = (tmp_path / "scene.txt").read_text(encoding="utf-8")
    assert streamed == written + "\n" and written.startswith("ROMEO:\n") and len(written) > len("ROMEO:\n") + 10


def test_upscale_many_files_goes_on_past_a_bad_one(tmp_path, capsys):
    bad = tmp_path / "not-an-image.png"
    bad.write_text("hello")
    code = main(["upscale", str(SR_EXAMPLES[0]), str(bad), str(SR_EXAMPLES[1]), "--scale", "2", "--out", str(tmp_path)])
    assert code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == [
        f"gen_app upscale: error: {bad}: That file is not an image this app can read (try PNG, JPEG or WebP)."
    ]
    for example in SR_EXAMPLES[:2]:
        out = tmp_path / f"{example.stem}-x2.png"
        width, height = Image.open(example).size
        assert Image.open(out).size == (2 * width, 2 * height)
        assert read_png_parameters(out) == {"model": "gen_app sr-x2", "scale": 2, "input_size": [width, height]}


@pytest.mark.parametrize(
    "option, model", [([], "gen_app sr-x4-real"), (["--photo-type", "clean"], "gen_app sr-x4")], ids=["auto", "clean"]
)
def test_upscale_photo_type(tmp_path, option, model):
    """A JPEG gets the real-photo model unless --photo-type says otherwise."""
    jpeg = ROOT / "gen_app" / "sr" / "examples" / "coffee-phone.jpg"
    assert main(["upscale", str(jpeg), *option, "--out", str(tmp_path)]) == 0
    assert read_png_parameters(tmp_path / "coffee-phone-x4.png")["model"] == model


def test_paint_with_a_named_style(tmp_path):
    assert (
        main(
            ["paint", str(PHOTO), "--style", "great_wave", "--strength", "0.7", "--size", "256", "--out", str(tmp_path)]
        )
        == 0
    )
    out = tmp_path / "chelsea-great_wave.png"
    params = read_png_parameters(out)
    assert params["style"] == "great_wave" and params["strength"] == 0.7 and params["model"] == "gen_app style"
    assert max(Image.open(out).size) == 256 == max(params["size"])


def test_compose_writes_wav_midi_and_abc(tmp_path):
    wav = tmp_path / "tunes" / "tune.wav"
    assert main(["compose", "--bars", "4", "--seed", "2", "--instrument", "flute", "--out", str(wav)]) == 0
    assert sorted(p.name for p in wav.parent.iterdir()) == ["tune.abc", "tune.mid", "tune.wav"]
    with soundfile.SoundFile(wav) as file:
        params = json.loads(file.copy_metadata()["comment"])
        assert file.frames > file.samplerate  # more than a second of music
    assert params["instrument"] == "flute" and params["seed"] == 2 and params["bars"] == 4 and params["tempo"] == 120
    assert wav.with_suffix(".abc").read_text(encoding="utf-8").startswith("X:1\nT:gen_app tune, seed 2\n")


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["text", "--prompt", "x", "--temperature", "9"],
            "gen_app text: error: Temperature must be from 0 to 2, got 9.",
        ),
        (["compose", "--bars", "100"], "gen_app compose: error: Bars must be from 4 to 64, got 100."),
        (["upscale", "missing.png"], "gen_app upscale: error: missing.png: no such file"),
        (["faces", "--count", "0"], "gen_app faces: error: --count must be from 1 to 4294967296, got 0"),
    ],
)
def test_bad_values_end_with_one_line_and_exit_code_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == message


def test_bad_value_from_the_shell_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gen_app", "faces", "--seed", "-1", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "gen_app faces: error: Seed must be from 0 to 4294967295, got -1."
    assert result.stdout == "" and not list(tmp_path.iterdir())
