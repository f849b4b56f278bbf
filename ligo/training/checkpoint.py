"""Checkpoints: ``<output_dir>/checkpoints/checkpoint-XXXXXXXX/`` (8-digit step).

Each holds the model in the Hugging Face format (safetensors), the tokenizer, the
optimiser, scheduler and loss-scaler states, every rank's RNG state, the data position and
counters (``trainer_state.json``) and the arguments. It is written into a temporary folder
(``.partial-checkpoint-XXXXXXXX``) and renamed into place, so a folder with a checkpoint's
name is always complete, whenever the process is killed; what a killed write leaves behind is
never taken for a checkpoint and is removed on resume. A write that fails (a full disk, a
file-size limit, no permission) is reported in one line and leaves the checkpoints before it as
they were.

Each also holds the SHA-256 of every other file (``checksums.sha256``, ligo/base/checksums.py),
checked before a run resumes from it: a damaged checkpoint is refused in one line naming the file
and the checkpoint to fall back to. Nothing loaded from a checkpoint can run code: tensors come
from safetensors, the rest from JSON or ``torch.load(weights_only=True)``.
"""

import hashlib
import json
import pickle
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch.distributed.checkpoint import CheckpointException

from ligo.base.atomic_write import describe_os_error, os_error_of
from ligo.base.checksums import SUMS_FILE, digests, files_of, find_problem, read_checksums, write_checksums
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


def partial_dir(output_dir, step: int) -> Path:
    """Where the checkpoint of ``step`` is written before it is renamed into place."""
    final = checkpoint_dir(output_dir, step)
    return final.with_name(f".partial-{final.name}")


def prepare_partial(output_dir, step: int) -> Path:
    """An empty ``.partial-`` folder for ``step``'s checkpoint (rank 0, before every rank writes into it)."""
    partial = partial_dir(output_dir, step)
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    except OSError as err:
        raise write_failed(f"checkpoint '{checkpoint_dir(output_dir, step)}'", err, output_dir) from None
    return partial


def write_together(output_dir, step: int, ctx, write):
    """``write(partial)`` on every rank at once (a collective: DCP), into the folder
    ``prepare_partial`` made; a failed write on any rank is every rank's one line, and rank 0
    removes what was written."""
    partial = partial_dir(output_dir, step)
    try:
        write(partial)
    except BaseException as err:
        if ctx.is_main:
            shutil.rmtree(partial, ignore_errors=True)
        os_error = os_error_of(err)
        if os_error is None and isinstance(err, CheckpointException):  # DCP's: every rank's error
            os_error = next((found for exc, _ in err.failures.values() if (found := os_error_of(exc))), None)
        if os_error is None:
            raise
        raise write_failed(f"checkpoint '{checkpoint_dir(output_dir, step)}'", os_error, output_dir) from None


def save_checkpoint(output_dir, step: int, save_weights, processor, training_objects: dict, rng_states: list[dict],
                    trainer_state: dict, args) -> Path:
    """Write the checkpoint of ``step`` atomically. ``save_weights(folder)`` writes the model,
    ``processor`` (the tokenizer, or an image model's processor) is saved beside it;
    ``training_objects`` maps a file stem to an object with ``state_dict()``. ``save_weights``
    None: every rank has written the model (and more) into the ``.partial-`` folder already
    (``write_together``)."""
    final = checkpoint_dir(output_dir, step)
    partial = partial_dir(output_dir, step)
    try:
        if save_weights is not None:
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            save_weights(partial)
        fault_injection.at("checkpoint_write", step, 0)
        # The weights are hashed in a thread (hashlib lets go of the GIL) while the rest is written;
        # torch.save's files are hashed as they are written: the checksums cost no second read.
        with ThreadPoolExecutor(1) as pool:
            weights = pool.submit(digests, partial, files_of(partial))
            processor.save_pretrained(str(partial))
            known = {f"{stem}.pt": _torch_save(obj.state_dict(), partial / f"{stem}.pt")
                     for stem, obj in training_objects.items()}
            save_file({f"rank{rank}.{key}": t.contiguous() for rank, state in enumerate(rng_states)
                       for key, t in state.items()}, str(partial / RNG_FILE))
            (partial / ARGS_FILE).write_text(json.dumps(vars(args), indent=2, sort_keys=True, default=str))
            known.update(weights.result())
        state_text = json.dumps(trainer_state, indent=2)
        write_checksums(partial, {STATE_FILE: state_text.encode()}, known)  # every file's, the state's too
        (partial / STATE_FILE).write_text(state_text)  # last: marks the folder complete
        fault_injection.at("checkpoint_rename", step, 0)
        _publish(partial, final)
    except BaseException as err:
        shutil.rmtree(partial, ignore_errors=True)  # frees what it held, on a full disk
        os_error = os_error_of(err)
        if os_error is None:
            raise
        raise write_failed(f"checkpoint '{final}'", os_error, output_dir) from None
    return final


def write_failed(what: str, err: OSError, output_dir) -> UserError:
    """The one line for a write of the run's (``what``: "checkpoint '...'", "'<file>'") that the
    operating system refused: a full disk, a file-size limit, no permission."""
    last = latest_checkpoint(output_dir)
    kept = f"the last good checkpoint, '{last}', is untouched" if last else "no checkpoint was written before"
    return UserError(f"cannot write {what}: {describe_os_error(err)}; {kept}: free disk space or fix the "
                     "permissions, then run again with --should_continue")


def _torch_save(obj, path: Path) -> str:
    """torch.save through a Python file, so that a failed write is the operating system's error
    (a full disk): saving to a path, torch's C++ writer reports only 'unexpected pos'. Returns
    the file's SHA-256, taken as it was written."""
    try:
        with open(path, "wb") as f:
            file = _ErrorKeepingFile(f)
            try:
                torch.save(obj, file)
            except RuntimeError:
                if file.error is None:
                    raise
                raise file.error from None
    except OSError as err:  # a Python file's failed write names no file
        raise OSError(err.errno, err.strerror, str(path)) from None
    return file.sha.hexdigest()


class _ErrorKeepingFile:
    """A file that keeps the error of its failed write (torch's writer turns it into a
    RuntimeError) and hashes what is written (torch's writer writes in order, never seeks)."""

    def __init__(self, file):
        self.file, self.error, self.sha = file, None, hashlib.sha256()

    def write(self, data):
        try:
            written = self.file.write(data)
        except OSError as err:
            self.error = err
            raise
        self.sha.update(data)
        return written

    def flush(self):
        self.file.flush()


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
                     f"damaged or was not written by this program: {fall_back(path.parent)}")


def fall_back(folder: Path) -> str:
    """What to do instead of resuming from ``folder``, a damaged checkpoint of a run."""
    found = NAME.match(folder.name)
    earlier = [path for step, path in list_checkpoints(folder.parent.parent) if found and step < int(found.group(1))]
    if earlier:
        return f"delete '{folder}' to resume from '{earlier[-1]}', the checkpoint before it"
    return "there is no earlier checkpoint: start afresh with --overwrite_output_dir"


def verify_checkpoint(folder: Path):
    """Before a run resumes from ``folder``: every file as written (its checksums), else, for a
    checkpoint written before checkpoints carried checksums, a warning and every safetensors and
    JSON file whole (a cut-short file must get this advice, not a loader's)."""
    try:
        sums = read_checksums(folder)
    except (ValueError, UnicodeDecodeError, OSError) as err:
        raise unreadable(folder / SUMS_FILE, err) from None
    if sums is None:
        print(f"warning: checkpoint '{folder}' has no {SUMS_FILE} (it was written before checkpoints carried "
              "checksums): its files cannot be verified; resuming from it", flush=True)
        _check_readable(folder)
        return
    problem = find_problem(folder, sums, progress=True)
    if problem is None:
        return
    if problem.what == "damaged":
        raise UserError(f"checkpoint file '{problem.path}' does not match the checksum recorded when it was written "
                        f"({SUMS_FILE}): it is damaged; {fall_back(folder)}")
    if problem.what == "missing":
        raise UserError(f"checkpoint file '{problem.path}' is missing (it is listed in {folder / SUMS_FILE}); "
                        f"{fall_back(folder)}")
    raise UserError(f"'{problem.path}' was not written with checkpoint '{folder}' (it is not listed in {SUMS_FILE}): "
                    f"move it out if you put it there, or {fall_back(folder)}")


def _check_readable(folder: Path):
    for path in sorted(folder.iterdir()):
        try:
            if path.suffix == ".safetensors":
                with safe_open(str(path), "pt"):  # its header: a cut-short file is found, its tensors not read
                    pass
            elif path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
        except (SafetensorError, ValueError, OSError) as err:
            raise unreadable(path, err) from None


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


def load_rng_state(folder: Path, rank: int, world_size: int) -> dict[str, torch.Tensor] | None:
    """This rank's RNG state; None if the checkpoint was written by another number of processes
    (``saved_world_size``): the caller decides whether that may resume."""
    try:
        tensors = load_file(str(folder / RNG_FILE))
    except (SafetensorError, OSError) as err:
        raise unreadable(folder / RNG_FILE, err) from None
    if len({int(key.split(".")[0][4:]) for key in tensors}) != world_size:
        return None
    prefix = f"rank{rank}."
    return {key[len(prefix):]: t for key, t in tensors.items() if key.startswith(prefix)}


def saved_world_size(folder: Path) -> int:
    """How many processes wrote checkpoint ``folder`` (one RNG state each)."""
    try:
        with safe_open(str(folder / RNG_FILE), "pt") as f:
            return len({key.split(".")[0] for key in f.keys()})
    except (SafetensorError, OSError) as err:
        raise unreadable(folder / RNG_FILE, err) from None


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        raise unreadable(path, err) from None


def load_trainer_state(folder: Path) -> dict:
    return _load_json(folder / STATE_FILE)


def load_saved_args(folder: Path) -> dict:
    return _load_json(folder / ARGS_FILE)
