"""The parts of a checkpoint that an FSDP run writes from every rank at once, with PyTorch's
Distributed Checkpoint (DCP), so that no process ever gathers the whole model:

- the model, in the Hugging Face format (``model.safetensors``, ``config.json``): each rank
  writes its shards, then rank 0 joins them tensor by tensor into the file ``AutoModel`` loads
  (DCP's ``HuggingFaceStorageWriter``), and removes the shards;
- the optimizer state, as DCP's sharded files (``optimizer/``), which load at any world size.

Everything else (tokenizer, scheduler, RNG, data position, checksums) rank 0 writes as for a DDP
run (ligo/training/checkpoint.py), into the same ``.partial-`` folder before it is renamed."""

import shutil
from pathlib import Path

import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint import HuggingFaceStorageWriter
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)

from ligo.base.errors import UserError
from ligo.training.distributed import Context, on_main
from ligo.training.sharding import own_names

OPTIMIZER_DIR = "optimizer"
SHARDS_DIR = "sharded"  # where HuggingFaceStorageWriter puts each rank's part before joining them


def save_model(module: nn.Module, folder: Path, ctx: Context):
    """Every rank: a Hugging Face model into ``folder`` (which exists), as ``save_pretrained`` writes it."""
    save_weights(module, folder, ctx, "model.safetensors")

    def settings():
        module.config.save_pretrained(str(folder))
        if getattr(module, "generation_config", None) is not None and module.can_generate():
            module.generation_config.save_pretrained(str(folder))

    on_main(ctx, "writing the model's config", settings)


def save_weights(module: nn.Module, folder: Path, ctx: Context, file_name: str):
    """Every rank: ``module``'s tensors into ``folder/file_name`` (safetensors), each rank's shards
    first, joined by rank 0."""
    # A tied tensor once, under the name the model's parameters give it (safetensors refuses
    # shared tensors; from_pretrained ties the other name back).
    own = own_names(module)
    weights = {name: tensor for name, tensor in get_model_state_dict(module).items() if name in own}
    dcp.save(weights, storage_writer=HuggingFaceStorageWriter(str(folder), save_distributed=True,
                                                              enable_consolidation=True))

    def join():
        shutil.rmtree(folder / SHARDS_DIR)
        joined = sorted(folder.glob("model-*.safetensors"))
        if len(joined) != 1:  # DCP joins into one file unless told to split it
            raise RuntimeError(f"DCP joined {len(joined)} files in '{folder}', expected one")
        joined[0].rename(folder / file_name)
        (folder / "model.safetensors.index.json").unlink()

    on_main(ctx, f"joining {file_name}", join)


def save_optimizer(module: nn.Module, optimizer, folder: Path):
    """Every rank: its shards of the optimizer state into ``folder/optimizer/``."""
    # Before the first step the optimizer has no state to save, and asking DCP for it would make
    # one: a step with zero gradients, which counts in AdamW's bias correction.
    if optimizer.state:
        dcp.save({"optimizer": get_optimizer_state_dict(module, optimizer)},
                 checkpoint_id=str(folder / OPTIMIZER_DIR))


def load_optimizer(module: nn.Module, optimizer, folder: Path, step: int):
    """Every rank: the optimizer state of checkpoint ``folder`` (of ``step``), resharded to this
    run's ranks; none before the first step."""
    if step == 0:
        return
    if not (folder / OPTIMIZER_DIR).is_dir():
        raise UserError(f"checkpoint '{folder}' has no {OPTIMIZER_DIR}/ (the sharded optimizer state of an FSDP run); "
                        "it was not written by this program with --data_parallel fsdp")
    saved = dcp.FileSystemReader(str(folder / OPTIMIZER_DIR)).read_metadata().state_dict_metadata
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    frozen = [p for p in parameters if not p.requires_grad]
    # DCP makes a state to fill for trainable parameters only: a parameter frozen now but trained
    # before (MSLT: a lower layer between stages) must get its saved state back all the same.
    for parameter in frozen:
        parameter.requires_grad_(True)
    try:
        fresh = get_optimizer_state_dict(module, optimizer)
        # One frozen until the checkpoint (MSLT's later stages) has none saved: it stays without,
        # and its first step makes it, as in the run never stopped.
        kept = {name: values for name, values in fresh["state"].items()
                if any(f"optimizer.state.{name}.{key}" in saved for key in values)}
        state = {"optimizer": {**fresh, "state": kept}}
        dcp.load(state, checkpoint_id=str(folder / OPTIMIZER_DIR))
        set_optimizer_state_dict(module, optimizer, state["optimizer"],
                                 options=StateDictOptions(strict=len(kept) == len(fresh["state"])))
    finally:
        for parameter in frozen:
            parameter.requires_grad_(False)
