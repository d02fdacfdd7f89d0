"""Load each tab's model from the Hugging Face Hub or from the embedded `checkpoints/<task>/`.

Order, per task:
1. a Hub repo id, from `GEN_APP_<TASK>_REPO` or else `gen_app/models.json`: downloaded with the normal Hub
   cache (so `HF_HUB_OFFLINE=1` works once cached; `HF_ENDPOINT` points at a mirror), with the repo's model card
   (README.md) when it has one, so the app describes the weights it actually runs;
2. if the Hub cannot be reached, is too slow, lacks the files or sends damaged ones, `checkpoints/<task>/`, with a
   logged warning;
3. with no repo id configured, `checkpoints/<task>/` (the default: a fresh clone runs offline).

Start-up never waits long on the network: the first task that needs the Hub sends one short probe
(`PROBE_SECONDS`) to `HF_ENDPOINT`, and every task shares its answer. If the Hub does not answer, every Hub task
loads its local checkpoint at once, and a background thread tries the downloads again later (into the Hub cache, for
the next start: a running app never swaps its models). If it answers, the downloads of all tasks together get at
most `GEN_APP_HUB_WAIT` seconds (default `HUB_WAIT_SECONDS`); a download still running then goes on in the
background, and its task starts from its local checkpoint.

Weights are safetensors only and load with `strict=True`: a checkpoint that misses or adds a tensor is an
error, never a silently half-initialised model. A missing or damaged file raises `ModelLoadError`, whose message
names the file, what is wrong with it and how to fix it. `LOAD_STATES` records how each task's model loaded.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from huggingface_hub import constants, get_session, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError
from safetensors import SafetensorError
from torch import nn

from gen_app.device import pick_device

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
# GEN_APP_CHECKPOINTS: another folder of checkpoints, laid out like checkpoints/ (the fault tests use a damaged copy).
CHECKPOINTS = Path(os.environ.get("GEN_APP_CHECKPOINTS") or ROOT / "checkpoints").resolve()
MODELS_CONFIG = Path(__file__).resolve().parent / "models.json"
WEIGHT_FILES = ("config.json", "model.safetensors")
CARD_FILE = "README.md"  # the model card: fetched with the weights when the repo has one, never required

PROBE_SECONDS = 1.5  # the one reachability probe of HF_ENDPOINT, shared by every task
HUB_WAIT_SECONDS = 5.0  # the most start-up waits on Hub downloads, all tasks together (GEN_APP_HUB_WAIT)
RETRY_DELAYS = (30.0, 60.0, 120.0, 300.0, 600.0)  # background download retries after an unreachable Hub

# How to make each task's checkpoint again (its card, checkpoints/<task>/README.md, has the whole recipe).
RETRAIN = {
    "faces": "python -m train.faces.train_renderer",
    "faces-prior": "python -m train.faces.train_prior",
    "style": "python -m train.style.train",
    "sr-x2": "python -m train.sr.train --scale 2 --init-from checkpoints/sr-x4",
    "sr-x4": "python -m train.sr.train --scale 4",
    "sr-x4-real": "python -m train.sr.train --scale 4 --degradation realistic --init-from checkpoints/sr-x4",
    "text": "python -m train.text.train --tokenizer bpe",
    "synth": "python -m train.synth.train",
    "melody": "python -m train.melody.train",
}

M = TypeVar("M", bound=nn.Module)


@dataclass(frozen=True)
class HubSource:
    repo_id: str
    revision: str = "main"


@dataclass(frozen=True)
class LoadState:
    """How a task's model loaded: `loaded` (from where it was configured to come from), `fallback` (the local
    checkpoint instead of its Hub repo) or `failed` (not loaded: its tab shows why)."""

    state: str
    origin: str
    detail: str = ""


LOAD_STATES: dict[str, LoadState] = {}


def shown_path(path: Path) -> str:
    """A path as messages show it: relative to the repository when inside it (checkpoints/text/config.json)."""
    try:
        return Path(os.path.abspath(path)).relative_to(ROOT).as_posix()  # abspath: a link is shown as itself
    except ValueError:
        return str(path)


class ModelLoadError(RuntimeError):
    """A task's model could not be loaded; the message names the file, what is wrong and how to fix it."""

    def __init__(self, task: str, file: Path, problem: str, fix: str | None = None):
        self.task, self.file, self.problem = task, Path(file), problem
        self.fix = fix or local_fix(task)
        super().__init__(f"{shown_path(self.file)} {problem}: {self.fix}")

    def __reduce__(self):  # pickled with its fields (the quick models' worker sends it: gen_app.worker)
        return type(self), (self.task, self.file, self.problem, self.fix)


def local_fix(task: str) -> str:
    retrain = RETRAIN.get(task)
    how = f"`git checkout -- checkpoints/{task}`"
    if retrain:
        how += f", or retrain it with `{retrain}` (the full recipe is in checkpoints/{task}/README.md)"
    return f"restore it with {how}"


def hub_fix(task: str, folder: Path) -> str:
    variable = f"GEN_APP_{task.upper().replace('-', '_')}_REPO"
    return f"delete the cached copy ({shown_path(folder)}) to download it again, or unset {variable}"


def short(error: BaseException, limit: int = 240) -> str:
    """An exception's first line (of load_state_dict's list, its first entry), without the text safetensors puts
    before the reason."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()] or [type(error).__name__]
    text = lines[1] if lines[0].startswith("Error(s) in loading state_dict") and len(lines) > 1 else lines[0]
    text = text.removeprefix("Error while deserializing header: ").rstrip(".")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hub_source(task: str) -> HubSource | None:
    """The Hub repo configured for `task`, if any (environment first, then models.json)."""
    env = os.environ.get(f"GEN_APP_{task.upper().replace('-', '_')}_REPO")
    if env is not None:
        return HubSource(env) if env.strip() else None
    entry = json.loads(MODELS_CONFIG.read_text()).get(task) or {}
    return HubSource(entry["repo_id"], entry.get("revision", "main")) if entry.get("repo_id") else None


def download(source: HubSource, files: tuple[str, ...]) -> Path:
    """Fetch `files` of `source` into the Hub cache, and its model card if it has one; returns the snapshot folder."""
    paths = [hf_hub_download(source.repo_id, name, revision=source.revision) for name in files]
    try:
        hf_hub_download(source.repo_id, CARD_FILE, revision=source.revision)
    except (EntryNotFoundError, HfHubHTTPError, OSError) as error:  # no card (or none cached): the weights still load
        log.info("no model card for %s (%s)", source.repo_id, type(error).__name__)
    return Path(paths[0]).parent


# ---- the Hub: one probe, one time budget, retries in the background ---------------------------------------------


@dataclass
class HubProbe:
    reachable: bool  # answered the probe (or HF_HUB_OFFLINE: the cache stands in for it)
    offline: bool  # HF_HUB_OFFLINE=1: cache only, no network at all
    reason: str  # why it is unreachable
    seconds: float  # what the probe took


class HubTimeout(OSError):
    """The Hub answered the probe, but the downloads did not finish within start-up's time budget."""


_hub_lock = threading.Lock()
_probe: HubProbe | None = None
_hub_waited = 0.0  # seconds start-up has waited on downloads so far (all tasks)
_pending: dict[str, tuple[HubSource, tuple[str, ...]]] = {}  # task -> what the background retries fetch
_retry_thread: threading.Thread | None = None


def hub_wait_budget() -> float:
    try:
        return max(0.0, float(os.environ.get("GEN_APP_HUB_WAIT", HUB_WAIT_SECONDS)))
    except ValueError:
        return HUB_WAIT_SECONDS


def probe_hub(timeout: float = PROBE_SECONDS) -> HubProbe:
    """One HEAD request to HF_ENDPOINT: any HTTP answer means it is reachable."""
    if constants.HF_HUB_OFFLINE:
        return HubProbe(True, True, "", 0.0)
    started = time.perf_counter()
    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
        reachable, reason = True, ""
    except Exception as error:  # connection refused, DNS, TLS, timeout: all mean "not now"
        reachable, reason = False, short(error) or type(error).__name__
    return HubProbe(reachable, False, reason, time.perf_counter() - started)


def hub_probe() -> HubProbe:
    """The Hub's reachability, probed once per start-up (by the first task that needs it) and shared by all tasks."""
    global _probe
    with _hub_lock:
        if _probe is None:
            _probe = probe_hub()
            if _probe.offline:
                log.info("HF_HUB_OFFLINE is set: Hub models come from the Hub cache only")
            elif _probe.reachable:
                log.info("the Hub (%s) answered in %.2f s", constants.ENDPOINT, _probe.seconds)
            else:
                log.warning(
                    "the Hub (%s) is unreachable (%s, after %.2f s): every task configured for it loads its local "
                    "checkpoint now, and the downloads are retried in the background for the next start",
                    constants.ENDPOINT,
                    _probe.reason,
                    _probe.seconds,
                )
        return _probe


def hub_seconds() -> float:
    """What start-up has spent on the Hub so far: the probe plus the waits on downloads."""
    with _hub_lock:
        return (_probe.seconds if _probe else 0.0) + _hub_waited


def hub_state() -> tuple[HubProbe | None, float]:
    """This start-up's Hub probe and the seconds spent so far: handed to and from the quick models' worker process
    around each model it loads (gen_app.worker), so that the two processes probe once and share one time budget."""
    with _hub_lock:
        return _probe, _hub_waited


def set_hub_state(state: tuple[HubProbe | None, float]) -> None:
    global _probe, _hub_waited
    with _hub_lock:
        _probe, _hub_waited = state


def reset_hub() -> None:
    """Forget the probe and the time spent (a new start-up; for tests)."""
    global _probe, _hub_waited
    with _hub_lock:
        _probe, _hub_waited = None, 0.0
        _pending.clear()


def download_in_budget(task: str, source: HubSource, files: tuple[str, ...]) -> Path:
    """`download`, waiting at most what is left of start-up's Hub budget; a download still running then goes on in a
    background thread (and fills the Hub cache for the next start), and HubTimeout is raised."""
    global _hub_waited
    with _hub_lock:
        left = hub_wait_budget() - _hub_waited
    if left <= 0:
        _retry_later(task, source, files)
        raise HubTimeout(f"start-up's {hub_wait_budget():g} s for the Hub are spent")
    outcome: dict[str, object] = {}
    finished = threading.Event()
    abandoned = threading.Event()

    def fetch() -> None:
        try:
            outcome["folder"] = download(source, files)
        except BaseException as error:  # handed to the waiting thread (or logged below)
            outcome["error"] = error
        finished.set()
        if abandoned.is_set():
            if "folder" in outcome:
                log.info("%s is now in the Hub cache: restart the app to serve it", source.repo_id)
            else:
                log.warning("the background download of %s failed (%s)", source.repo_id, outcome["error"])

    started = time.perf_counter()
    threading.Thread(target=fetch, name=f"hub-download-{task}", daemon=True).start()
    done = finished.wait(left)
    with _hub_lock:
        _hub_waited += time.perf_counter() - started
    if not done:
        abandoned.set()
        raise HubTimeout(f"no answer within start-up's {hub_wait_budget():g} s for the Hub; still downloading")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["folder"]  # type: ignore[return-value]


def _retry_later(task: str, source: HubSource, files: tuple[str, ...]) -> None:
    """Queue `task`'s download for the background retries (one daemon thread for every task)."""
    global _retry_thread
    with _hub_lock:
        _pending[task] = (source, files)
        if _retry_thread is None or not _retry_thread.is_alive():
            _retry_thread = threading.Thread(target=_retry_downloads, name="hub-retry", daemon=True)
            _retry_thread.start()


def _retry_downloads() -> None:
    """Probe again after each of RETRY_DELAYS; once the Hub answers, download every pending task into the cache."""
    for delay in RETRY_DELAYS:
        time.sleep(delay)
        if not probe_hub().reachable:
            log.info("the Hub (%s) is still unreachable; next try in a while", constants.ENDPOINT)
            continue
        with _hub_lock:
            pending = dict(_pending)
        for task, (source, files) in pending.items():
            try:
                download(source, files)
            except Exception as error:
                log.warning("retried %s for %s: %s", source.repo_id, task, short(error))
                continue
            with _hub_lock:
                _pending.pop(task, None)
            log.info("%s (%s) is now in the Hub cache: restart the app to serve it", source.repo_id, task)
        with _hub_lock:
            if not _pending:
                return
    log.warning("gave up retrying the Hub for %s", ", ".join(sorted(_pending)) or "nothing")


def checkpoint_dir(task: str, extra_files: tuple[str, ...] = ()) -> tuple[Path, str]:
    """Where `task`'s weights (and `extra_files`, e.g. a tokenizer) come from: (folder, readable origin)."""
    source = hub_source(task)
    local = CHECKPOINTS / task
    if source is None:
        return local, shown_path(local)
    files = WEIGHT_FILES + extra_files
    probe = hub_probe()
    if not probe.reachable:
        log.warning("not loading %s from the Hub (unreachable); using %s", source.repo_id, shown_path(local))
        _retry_later(task, source, files)
        return local, f"{shown_path(local)} (Hub {source.repo_id} unreachable)"
    try:
        folder = download(source, files) if probe.offline else download_in_budget(task, source, files)
        return folder, f"hf.co/{source.repo_id}@{source.revision}"
    except HubTimeout as error:
        log.warning("could not load %s from the Hub in time (%s); using %s", source.repo_id, error, shown_path(local))
        return local, f"{shown_path(local)} (Hub {source.repo_id} too slow)"
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as error:
        # OSError covers connection failures; the Hub client raises it for unreachable hosts.
        log.warning("could not load %s from the Hub (%s); using %s", source.repo_id, error, shown_path(local))
        return local, f"{shown_path(local)} (Hub {source.repo_id} unreachable)"


# ---- reading a checkpoint -----------------------------------------------------------------------------------------


def read_checkpoint(model_class: type[M], task: str, folder: Path, extra_files: tuple[str, ...], fix: str) -> M:
    """`model_class.from_pretrained(folder)`, with every way that can fail told as a ModelLoadError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(task, folder, "is missing", fix)
    for name in WEIGHT_FILES + extra_files:
        if not (folder / name).is_file():
            raise ModelLoadError(task, folder / name, "is missing", fix)
    config, weights = folder / "config.json", folder / "model.safetensors"
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelLoadError(task, config, f"is damaged ({short(error)})", fix) from error
    try:
        return model_class.from_pretrained(folder, strict=True)
    except SafetensorError as error:
        raise ModelLoadError(task, weights, f"is damaged ({short(error)})", fix) from error
    except (TypeError, ValueError, KeyError) as error:  # config values the model's constructor refuses
        raise ModelLoadError(task, config, f"does not fit the model ({short(error)})", fix) from error
    except RuntimeError as error:  # load_state_dict: size mismatch, missing or unexpected tensors
        problem = f"does not match {shown_path(config)} ({short(error)})"
        raise ModelLoadError(task, weights, problem, fix) from error
    except OSError as error:
        raise ModelLoadError(task, weights, f"could not be read ({short(error)})", fix) from error


def failed(task: str, origin: str, error: ModelLoadError) -> ModelLoadError:
    """Record that `task`'s model did not load (for gen_app.metrics); returns `error`, to raise (the tab that gets
    it logs it and shows it)."""
    LOAD_STATES[task] = LoadState("failed", origin, str(error))
    return error


def load_model(
    model_class: type[M], task: str, device: torch.device | None = None, extra_files: tuple[str, ...] = ()
) -> tuple[M, str, Path]:
    """`task`'s model (a PyTorchModelHubMixin class) in eval mode on `device`, its origin, and its folder.

    Raises ModelLoadError when the checkpoint is missing or damaged (Hub weights that fail to load fall back to the
    local checkpoint first)."""
    folder, origin = checkpoint_dir(task, extra_files)
    local = CHECKPOINTS / task
    try:
        try:
            fix = local_fix(task) if Path(folder) == local else hub_fix(task, Path(folder))
            model = read_checkpoint(model_class, task, folder, extra_files, fix)
        except ModelLoadError as error:
            if Path(folder) == local:
                raise
            log.warning("the Hub copy of %s cannot be loaded (%s); using %s", task, error, shown_path(local))
            folder, origin = local, f"{shown_path(local)} (Hub copy damaged)"
            model = read_checkpoint(model_class, task, folder, extra_files, local_fix(task))
    except ModelLoadError as error:
        raise failed(task, origin, error) from error.__cause__
    device = device or pick_device()
    if torch.device(device).type == "cpu":
        torch.set_flush_denormal(True)  # denormal values slow CPU convolutions and GRUs by 10-50x
    model = model.to(device).eval().requires_grad_(False)
    fell_back = hub_source(task) is not None and not origin.startswith("hf.co/")
    LOAD_STATES[task] = LoadState("fallback" if fell_back else "loaded", origin)
    log.info("loaded %s from %s", task, origin)
    return model, origin, Path(folder)
