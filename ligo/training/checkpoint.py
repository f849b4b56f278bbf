"""Checkpoints: ``<output_dir>/checkpoints/checkpoint-XXXXXXXX/`` (8-digit step).

Each holds the model in the Hugging Face format (safetensors), the tokenizer, the
optimiser, scheduler and loss-scaler states, every rank's RNG state, the data position and
counters (``trainer_state.json``) and the arguments. It is written into a temporary folder
(``.partial-checkpoint-XXXXXXXX``) and renamed into place, so a folder with a checkpoint's
name is always complete, whenever the process is killed; what a killed write leaves behind is
never taken for a checkpoint and is removed on resume. A write that fails (a full disk, no
permission) is reported in one line and leaves the checkpoints before it as they were. Nothing
loaded from a checkpoint can run code: tensors come from safetensors, the rest from JSON or
``torch.load(weights_only=True)``.
"""

import errno
import json
import pickle
import re
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ligo.base.errors import UserError
from ligo.training import fault_injection

CHECKPOINTS = "checkpoints"
NAME = re.compile(r"^checkpoint-(\d{8})$")
STATE_FILE = "trainer_state.json"
ARGS_FILE = "training_args.json"
RNG_FILE = "rng_state.safetensors"


def checkpoint_dir(output_dir, step: int) -> Path:
    return Path(output_dir) / CHECKPOINTS / f"checkpoint-{step:08d}"


def list_checkpoints(output_dir) -> list[tuple[int, Path]]:
    """Complete checkpoints, oldest first."""
    folder = Path(output_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := NAME.match(p.name)) and (p / STATE_FILE).is_file()]
    return sorted(found)


def latest_checkpoint(output_dir) -> Path | None:
    checkpoints = list_checkpoints(output_dir)
    return checkpoints[-1][1] if checkpoints else None


def resolve_model_path(path: str) -> str:
    """A model folder, or a run's output_dir (then its latest checkpoint)."""
    latest = latest_checkpoint(path)
    return str(latest) if latest is not None else path


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng_state(state: dict[str, torch.Tensor], device: torch.device):
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def save_checkpoint(output_dir, step: int, save_weights, processor, training_objects: dict, rng_states: list[dict],
                    trainer_state: dict, args) -> Path:
    """Write the checkpoint of ``step`` atomically. ``save_weights(folder)`` writes the model,
    ``processor`` (the tokenizer, or an image model's processor) is saved beside it;
    ``training_objects`` maps a file stem to an object with ``state_dict()``."""
    final = checkpoint_dir(output_dir, step)
    partial = final.with_name(f".partial-{final.name}")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        save_weights(partial)
        fault_injection.at("checkpoint_write", step, 0, path=partial / "tokenizer.json")
        processor.save_pretrained(str(partial))
        for stem, obj in training_objects.items():
            torch.save(obj.state_dict(), partial / f"{stem}.pt")
        save_file({f"rank{rank}.{key}": t.contiguous() for rank, state in enumerate(rng_states)
                   for key, t in state.items()}, str(partial / RNG_FILE))
        (partial / ARGS_FILE).write_text(json.dumps(vars(args), indent=2, sort_keys=True, default=str))
        (partial / STATE_FILE).write_text(json.dumps(trainer_state, indent=2))  # last: marks the folder complete
        fault_injection.at("checkpoint_rename", step, 0)
        _publish(partial, final)
    except BaseException as err:
        shutil.rmtree(partial, ignore_errors=True)  # frees what it held, on a full disk
        if not _is_disk_error(err):
            raise
        last = latest_checkpoint(output_dir)
        kept = f"the last good checkpoint, '{last}', is untouched" if last else "no checkpoint was written before"
        raise UserError(f"cannot write checkpoint '{final}': {_describe(err)}; {kept}: free disk space or fix the "
                        "permissions, then run again with --should_continue") from None
    return final


def _is_disk_error(err: BaseException) -> bool:
    # safetensors reports the OS error of a failed write as its own exception type
    return isinstance(err, OSError) or (isinstance(err, SafetensorError) and "IoError" in str(err))


def _publish(partial: Path, final: Path):
    """Rename ``partial`` to ``final``; a checkpoint of the same step is replaced without ever
    leaving a half-deleted folder under a checkpoint's name."""
    if final.exists():
        stale = final.with_name(f".stale-{final.name}")
        shutil.rmtree(stale, ignore_errors=True)
        final.rename(stale)
        partial.rename(final)
        shutil.rmtree(stale)
    else:
        partial.rename(final)


def _describe(err: Exception) -> str:
    if isinstance(err, OSError):
        code = errno.errorcode.get(err.errno, str(err.errno))
        where = f" at '{err.filename}'" if err.filename else ""
        return f"{err.strerror or err} ({code}){where}"
    return str(err)  # safetensors' I/O error names the OS error itself


def remove_unfinished(output_dir) -> list[Path]:
    """Remove what killed checkpoint writes left behind (never complete checkpoints)."""
    folder = Path(output_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    leftovers = sorted(p for p in folder.iterdir() if p.name.startswith((".partial-", ".stale-")))
    for path in leftovers:
        shutil.rmtree(path)
    return leftovers


def unreadable(path: Path, err: Exception) -> UserError:
    """A checkpoint file that is damaged, or that torch.load(weights_only=True) refused to unpickle."""
    detail = " ".join(str(err).split())[:200] or type(err).__name__
    return UserError(f"checkpoint file '{path}' cannot be loaded safely ({type(err).__name__}: {detail}); it is "
                     f"damaged or was not written by this program: delete '{path.parent}' to resume from the "
                     "checkpoint before it, or start afresh with --overwrite_output_dir")


def load_training_objects(folder: Path, training_objects: dict):
    for stem, obj in training_objects.items():
        path = folder / f"{stem}.pt"
        if not path.is_file():
            raise UserError(f"checkpoint '{folder}' has no {path.name}; it was not written by this program")
        try:  # weights_only: a planted pickle is refused, never run
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
            raise unreadable(path, err) from None
        obj.load_state_dict(state)


def load_rng_state(folder: Path, rank: int, world_size: int) -> dict[str, torch.Tensor]:
    try:
        tensors = load_file(str(folder / RNG_FILE))
    except (SafetensorError, OSError) as err:
        raise unreadable(folder / RNG_FILE, err) from None
    saved_ranks = {int(key.split(".")[0][4:]) for key in tensors}
    if len(saved_ranks) != world_size:
        raise UserError(
            f"checkpoint '{folder}' was written by {len(saved_ranks)} process(es), this run has {world_size}; "
            f"resume with {len(saved_ranks)} to continue exactly"
        )
    prefix = f"rank{rank}."
    return {key[len(prefix):]: t for key, t in tensors.items() if key.startswith(prefix)}


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        raise unreadable(path, err) from None


def load_trainer_state(folder: Path) -> dict:
    return _load_json(folder / STATE_FILE)


def load_saved_args(folder: Path) -> dict:
    return _load_json(folder / ARGS_FILE)
