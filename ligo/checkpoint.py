"""Checkpoints: ``<output_dir>/checkpoints/checkpoint-XXXXXXXX/`` (8-digit step).

Each holds the model in the Hugging Face format (safetensors), the tokenizer, the
optimiser, scheduler and loss-scaler states, every rank's RNG state, the data position and
counters (``trainer_state.json``) and the arguments. It is written into a temporary folder
and renamed into place, so a folder with a checkpoint's name is always complete. Nothing
loaded from a checkpoint can run code: tensors come from safetensors, the rest from JSON or
``torch.load(weights_only=True)``.
"""

import json
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ligo.errors import UserError

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


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng_state(state: dict[str, torch.Tensor], device: torch.device):
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def save_checkpoint(output_dir, step: int, save_weights, tokenizer, training_objects: dict, rng_states: list[dict],
                    trainer_state: dict, args) -> Path:
    """Write the checkpoint of ``step`` atomically. ``save_weights(folder)`` writes the model;
    ``training_objects`` maps a file stem to an object with ``state_dict()``."""
    final = checkpoint_dir(output_dir, step)
    partial = final.with_name(f".partial-{final.name}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    save_weights(partial)
    tokenizer.save_pretrained(str(partial))
    for stem, obj in training_objects.items():
        torch.save(obj.state_dict(), partial / f"{stem}.pt")
    save_file({f"rank{rank}.{key}": t.contiguous() for rank, state in enumerate(rng_states) for key, t in state.items()},
              str(partial / RNG_FILE))
    (partial / ARGS_FILE).write_text(json.dumps(vars(args), indent=2, sort_keys=True, default=str))
    (partial / STATE_FILE).write_text(json.dumps(trainer_state, indent=2))  # last: marks the folder complete
    if final.exists():  # the same step saved again (a resumed run): the new one replaces it
        shutil.rmtree(final)
    partial.rename(final)
    return final


def load_training_objects(folder: Path, training_objects: dict):
    for stem, obj in training_objects.items():
        path = folder / f"{stem}.pt"
        if not path.is_file():
            raise UserError(f"checkpoint '{folder}' has no {path.name}; it was not written by this program")
        obj.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))


def load_rng_state(folder: Path, rank: int, world_size: int) -> dict[str, torch.Tensor]:
    tensors = load_file(str(folder / RNG_FILE))
    saved_ranks = {int(key.split(".")[0][4:]) for key in tensors}
    if len(saved_ranks) != world_size:
        raise UserError(
            f"checkpoint '{folder}' was written by {len(saved_ranks)} process(es), this run has {world_size}; "
            f"resume with {len(saved_ranks)} to continue exactly"
        )
    prefix = f"rank{rank}."
    return {key[len(prefix):]: t for key, t in tensors.items() if key.startswith(prefix)}


def load_trainer_state(folder: Path) -> dict:
    return json.loads((folder / STATE_FILE).read_text())


def load_saved_args(folder: Path) -> dict:
    return json.loads((folder / ARGS_FILE).read_text())
