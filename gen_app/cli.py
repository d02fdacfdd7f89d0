"""Batch work from the shell, with the app's own pipelines, limits and output metadata (no Gradio):

python -m gen_app faces --seed 1 --count 64 --out out/           # PNGs with their settings, as the app saves them
python -m gen_app text --prompt "ROMEO:" --max-new-tokens 200     # streams to stdout (--out FILE: to a file)
python -m gen_app upscale photo.jpg scan.png --scale 4 --out big/   # --photo-type clean|real (auto: real for JPEGs)
python -m gen_app paint photo.jpg --style starry_night --out painted/
python -m gen_app compose --bars 16 --out tune.wav               # and tune.mid, tune.abc beside it

Every value goes to the pipeline that the app's tab calls, which checks it against the same limits; defaults are
read from the pipelines too. A value it refuses (out of range, a file that is not an image...) ends the command
with one line on stderr and exit code 2; with several inputs, the others are still processed.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import sys
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from gen_app.audio.downloads import compose_settings, write_performance
from gen_app.audio.instruments import BY_NAME
from gen_app.audio.pipeline import (
    BARS_RANGE,
    DEFAULT_INSTRUMENT,
    DEFAULT_TEMPO,
    KEYS,
    METRES,
    MORPH_RANGE,
    ROOM_RANGE,
    TEMPO_RANGE,
    AudioPipeline,
    Voice,
)
from gen_app.audio.pipeline import TEMPERATURE_RANGE as COMPOSE_TEMPERATURE
from gen_app.faces.pipeline import MAX_FACES, TEMPERATURE_RANGE, FacePipeline
from gen_app.images import save_png
from gen_app.limits import InvalidInput
from gen_app.loading import ModelLoadError
from gen_app.sampling import (
    NEW_TOKENS_RANGE,
    REPETITION_PENALTY_RANGE,
    TOP_K_RANGE,
    TOP_P_RANGE,
    SamplingSettings,
)
from gen_app.sampling import TEMPERATURE_RANGE as TEXT_TEMPERATURE
from gen_app.seeding import MAX_SEED
from gen_app.sr.pipeline import PHOTO_TYPES, SCALES, SRPipeline, max_input_pixels
from gen_app.style.pipeline import BLEND_RANGE, OUTPUT_SIDES, STRENGTH_RANGE, StylePipeline, load_styles
from gen_app.text.pipeline import TextPipeline

T = TypeVar("T")
BAD_INPUT = 2  # exit code of a refused value (as argparse uses for a bad option)


def default(fn: Callable, name: str):
    """The default of parameter `name` of `fn`: the CLI offers the pipelines' own defaults."""
    return inspect.signature(fn).parameters[name].default


def fail(command: str, message: str) -> int:
    print(f"gen_app {command}: error: {message}", file=sys.stderr)
    return BAD_INPUT


def load(factory: Callable[[], T]) -> T:
    """A pipeline, loaded with stdout sent to stderr: huggingface_hub's model mixin prints while loading, and
    stdout is the commands' output (text streams there)."""
    with contextlib.redirect_stdout(sys.stderr):
        return factory()


def existing_files(command: str, paths: list[str]) -> list[Path] | None:
    """The inputs as paths, or None (after one error line) when one is missing."""
    for path in paths:
        if not Path(path).is_file():
            fail(command, f"{path}: no such file")
            return None
    return [Path(p) for p in paths]


def each_input(command: str, paths: list[Path], work: Callable[[Path], list[str]]) -> int:
    """Run `work` on every input with a progress bar; a refused input gets one error line and the rest go on."""
    failed = 0
    for path in tqdm(paths, desc=command, unit="file", disable=len(paths) < 2):
        try:
            for notice in work(path):
                tqdm.write(f"{path}: {notice}", file=sys.stderr)
        except InvalidInput as error:
            tqdm.write(f"gen_app {command}: error: {path}: {error}", file=sys.stderr)  # above the progress bar
            failed += 1
    return BAD_INPUT if failed else 0


# ---- the commands -----------------------------------------------------------------------------------------------


def faces(args: argparse.Namespace) -> int:
    if not 1 <= args.count <= MAX_SEED + 1:
        return fail("faces", f"--count must be from 1 to {MAX_SEED + 1}, got {args.count}")
    pipe = load(FacePipeline.load)
    args.out.mkdir(parents=True, exist_ok=True)
    seed = args.seed  # as given: the pipeline checks it (a wrapped -1 would pass)
    with tqdm(total=args.count, desc="faces", unit="face", disable=args.count < 2) as progress:
        for start in range(0, args.count, MAX_FACES):  # the pipeline's batch limit; each seed draws its own face
            batch = pipe.generate(seed, min(MAX_FACES, args.count - start), args.temperature)
            for image, face_seed, params in zip(batch.images, batch.seeds, batch.metadata(), strict=True):
                save_png(image, args.out / f"face-{face_seed}.png", params)
            progress.update(len(batch.images))
            seed = (batch.seeds[-1] + 1) % (MAX_SEED + 1)
    print(f"{args.count} face(s) in {args.out}/")
    return 0


def text(args: argparse.Namespace) -> int:
    settings = SamplingSettings(
        args.max_new_tokens, args.temperature, args.top_k, args.top_p, args.repetition_penalty, args.seed
    ).validated()
    pipe = load(TextPipeline.load)
    prepared = pipe.prepare(args.prompt)
    for notice in prepared.notices:
        print(f"note: {notice}", file=sys.stderr)
    stream: Iterator[str] = pipe.stream(prepared, settings)
    if args.out is None:  # to the terminal as it is written, like the app
        sys.stdout.write(args.prompt)
        shown = ""
        for shown_next in stream:
            sys.stdout.write(shown_next[len(shown) :])
            sys.stdout.flush()
            shown = shown_next
        sys.stdout.write("\n")
        return 0
    last = deque(tqdm(stream, total=settings.max_new_tokens, desc="text", unit="token"), maxlen=1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(args.prompt + (last[0] if last else ""), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def upscale(args: argparse.Namespace) -> int:
    paths = existing_files("upscale", args.inputs)
    if paths is None:
        return BAD_INPUT
    pipe = load(SRPipeline.load)
    args.out.mkdir(parents=True, exist_ok=True)

    def work(path: Path) -> list[str]:
        photo_type = None if args.photo_type == "auto" else args.photo_type
        result = pipe.upscale(path, args.scale, photo_type=photo_type)
        save_png(result.image, args.out / f"{path.stem}-x{args.scale}.png", result.params)
        return result.notices

    return each_input("upscale", paths, work)


def paint(args: argparse.Namespace) -> int:
    paths = existing_files("paint", args.inputs)
    if paths is None:
        return BAD_INPUT
    pipe = load(StylePipeline.load)
    args.out.mkdir(parents=True, exist_ok=True)

    def work(path: Path) -> list[str]:
        result = pipe.stylize(
            path, args.style, args.strength, args.blend_with, args.blend, args.keep_colours, args.size
        )
        save_png(result.image, args.out / f"{path.stem}-{args.style}.png", result.params)
        return result.notices

    return each_input("paint", paths, work)


def compose(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() != ".wav":
        return fail("compose", f"--out must name a .wav file, got {args.out}")
    if not 1 <= args.count <= MAX_SEED + 1:
        return fail("compose", f"--count must be from 1 to {MAX_SEED + 1}, got {args.count}")
    voice = Voice(args.instrument, args.morph_to, args.morph if args.morph_to else 0.0, args.room)
    pipe = load(AudioPipeline.load)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for i in tqdm(range(args.count), desc="compose", unit="tune", disable=args.count < 2):
        seed = args.seed if i == 0 else (args.seed + i) % (MAX_SEED + 1)  # the first as given: the pipeline checks it
        abc = pipe.compose(seed, args.temperature, args.bars, args.metre, args.key)
        played = pipe.play_abc(abc, args.tempo, voice)
        for notice in played.notices:
            tqdm.write(f"note: {notice}", file=sys.stderr)
        params = compose_settings(voice, seed, args.temperature, args.bars, args.metre, args.key, args.tempo)
        wav = args.out if args.count == 1 else args.out.with_name(f"{args.out.stem}-{seed}.wav")
        program = pipe.leading_instrument(voice).program
        files = write_performance(played, wav, params, program, abc, f"gen_app tune, seed {seed}")
        tqdm.write(f"wrote {', '.join(str(f) for f in files)} ({played.seconds:.1f} s)")
    return 0


# ---- the parser -------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The commands and their options, with the pipelines' ranges and defaults."""

    def span(low, high) -> str:
        return f"{low:g} to {high:g}"

    parser = argparse.ArgumentParser(
        prog="python -m gen_app",
        description="Run the app's generators from the shell (same models, limits and output metadata as the app).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    seed_help = f"seed, 0 to {MAX_SEED}"

    p = commands.add_parser(
        "faces",
        help="cartoon faces as PNGs",
        description="Cartoon faces, one per seed (seed, "
        "seed+1, ...), saved as PNGs with their settings and parameters in the text chunks.",
    )
    p.add_argument("--seed", type=int, default=0, help=seed_help + " (default 0)")
    p.add_argument("--count", type=int, default=1, help=f"how many faces (default 1; drawn {MAX_FACES} at a time)")
    temperature = default(FacePipeline.generate, "temperature")
    p.add_argument(
        "--temperature",
        type=float,
        default=temperature,
        help=f"{span(*TEMPERATURE_RANGE)}; below 1: more typical faces (default {temperature:g})",
    )
    p.add_argument("--out", type=Path, default=Path("out"), help="folder for face-<seed>.png (default out/)")
    p.set_defaults(run=faces)

    settings = SamplingSettings()
    p = commands.add_parser(
        "text",
        help="continue a prompt (Shakespeare)",
        description="Continue a prompt with the text model; streams to stdout.",
    )
    p.add_argument("--prompt", required=True, help="the text to continue, e.g. 'ROMEO:\\n'")
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=settings.max_new_tokens,
        help=f"{span(*NEW_TOKENS_RANGE)} (default {settings.max_new_tokens})",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=settings.temperature,
        help=f"{span(*TEXT_TEMPERATURE)}; 0: always the likeliest token (default {settings.temperature:g})",
    )
    p.add_argument("--top-k", type=int, default=settings.top_k, help=f"{span(*TOP_K_RANGE)}; 0: off")
    p.add_argument("--top-p", type=float, default=settings.top_p, help=f"{span(*TOP_P_RANGE)}; 1: off")
    p.add_argument(
        "--repetition-penalty",
        type=float,
        default=settings.repetition_penalty,
        help=f"{span(*REPETITION_PENALTY_RANGE)}; 1: off",
    )
    p.add_argument("--seed", type=int, default=settings.seed, help=seed_help)
    p.add_argument("--out", type=Path, help="write prompt and continuation to this file instead (progress bar)")
    p.set_defaults(run=text)

    p = commands.add_parser(
        "upscale",
        help="super-resolution ×2 or ×4",
        description="Upscale images; each is "
        "saved as <name>-x<scale>.png in its own mode (RGB, RGBA, grayscale, 16-bit).",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help=f"images, up to {max_input_pixels(2) / 1e6:.1f} megapixels at x2, {max_input_pixels(4) / 1e6:.1f} at x4",
    )
    p.add_argument("--scale", type=int, choices=SCALES, default=max(SCALES), help=f"default {max(SCALES)}")
    p.add_argument(
        "--photo-type",
        choices=["auto", *PHOTO_TYPES],
        default="auto",
        help="; ".join(f"{key}: {label}" for key, label in PHOTO_TYPES.items())
        + "; auto (default): real for JPEGs, clean for anything else",
    )
    p.add_argument("--out", type=Path, default=Path("out"), help="folder for the results (default out/)")
    p.set_defaults(run=upscale)

    styles = [style.id for style in load_styles()]
    strength, size = default(StylePipeline.stylize, "strength"), default(StylePipeline.stylize, "max_side")
    p = commands.add_parser(
        "paint",
        help="style transfer with one of the 16 paintings",
        description="Paint photos in the style of a shipped painting; each is saved as "
        "<name>-<style>.png with its settings.",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="photos")
    p.add_argument("--style", required=True, choices=styles, metavar="NAME", help=", ".join(styles))
    p.add_argument(
        "--strength", type=float, default=strength, help=f"{span(*STRENGTH_RANGE)}; 0: the photo (default {strength:g})"
    )
    p.add_argument("--blend-with", choices=styles, metavar="NAME", help="a second style to blend in")
    p.add_argument(
        "--blend",
        type=float,
        default=default(StylePipeline.stylize, "blend"),
        help=f"the second style's share, {span(*BLEND_RANGE)}",
    )
    p.add_argument("--keep-colours", action="store_true", help="keep the photo's colours")
    p.add_argument("--size", type=int, choices=OUTPUT_SIDES, default=size, help=f"longest side (default {size})")
    p.add_argument("--out", type=Path, default=Path("out"), help="folder for the results (default out/)")
    p.set_defaults(run=paint)

    instruments = list(BY_NAME)
    p = commands.add_parser(
        "compose",
        help="compose a folk tune and play it",
        description="Compose a tune with "
        "the melody model and play it with the neural instrument: a WAV with its settings, "
        "and the tune as MIDI and ABC beside it.",
    )
    p.add_argument("--seed", type=int, default=default(AudioPipeline.compose, "seed"), help=seed_help)
    p.add_argument("--count", type=int, default=1, help="how many tunes (seeds seed, seed+1, ...; default 1)")
    bars, compose_temperature = default(AudioPipeline.compose, "bars"), default(AudioPipeline.compose, "temperature")
    p.add_argument("--bars", type=int, default=bars, help=f"at most, {span(*BARS_RANGE)} (default {bars})")
    p.add_argument(
        "--temperature",
        type=float,
        default=compose_temperature,
        help=f"{span(*COMPOSE_TEMPERATURE)} (default {compose_temperature:g})",
    )
    p.add_argument("--metre", choices=METRES, help="default: the model's choice")
    p.add_argument("--key", choices=KEYS, help="default: the model's choice")
    p.add_argument(
        "--tempo",
        type=float,
        default=DEFAULT_TEMPO,
        help=f"quarter notes per minute, {span(*TEMPO_RANGE)} (default {DEFAULT_TEMPO})",
    )
    p.add_argument(
        "--instrument", choices=instruments, default=DEFAULT_INSTRUMENT, help=f"default {DEFAULT_INSTRUMENT}"
    )
    p.add_argument("--morph-to", choices=instruments, help="a second instrument to morph towards")
    halfway = sum(MORPH_RANGE) / 2
    p.add_argument(
        "--morph", type=float, default=halfway, help=f"{span(*MORPH_RANGE)}: 0 first, 1 second (default {halfway:g})"
    )
    room = Voice.__dataclass_fields__["room"].default
    p.add_argument("--room", type=float, default=room, help=f"{span(*ROOM_RANGE)}: 0 dry, 1 a large hall")
    p.add_argument(
        "--out", type=Path, default=Path("tune.wav"), help="the WAV (default tune.wav; with --count: tune-<seed>.wav)"
    )
    p.set_defaults(run=compose)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except InvalidInput as error:
        return fail(args.command, str(error))
    except ModelLoadError as error:
        print(f"gen_app {args.command}: the model could not be loaded: {error}", file=sys.stderr)
        return 1
