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
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)

from ligo.base.errors import UserError
from ligo.training.distributed import Context, on_main
from ligo.training.sharding import own_names

OPTIMIZER_DIR = "optimizer"
SHARDS_DIR = "sharded"  # where HuggingFaceStorageWriter puts each rank's part before joining them


def save(module: nn.Module, optimizer, folder: Path, ctx: Context):
    """Every rank: the model and the optimizer state into ``folder`` (which exists)."""
    # A tied tensor once, under the name the model's parameters give it (safetensors refuses
    # shared tensors; from_pretrained ties the other name back).
    own = own_names(module)
    weights = {name: tensor for name, tensor in get_model_state_dict(module).items() if name in own}
    dcp.save(weights, storage_writer=HuggingFaceStorageWriter(str(folder), save_distributed=True,
                                                              enable_consolidation=True))
    # Before the first step the optimizer has no state to save, and asking DCP for it would make
    # one: a step with zero gradients, which counts in AdamW's bias correction.
    if optimizer.state:
        dcp.save({"optimizer": get_optimizer_state_dict(module, optimizer)},
                 checkpoint_id=str(folder / OPTIMIZER_DIR))

    def finish():
        shutil.rmtree(folder / SHARDS_DIR)
        joined = sorted(folder.glob("model-*.safetensors"))
        if len(joined) == 1:  # one file: the name save_pretrained gives it, without an index
            joined[0].rename(folder / "model.safetensors")
            (folder / "model.safetensors.index.json").unlink()
        module.config.save_pretrained(str(folder))
        if getattr(module, "generation_config", None) is not None and module.can_generate():
            module.generation_config.save_pretrained(str(folder))

    on_main(ctx, "finishing the model's files", finish)


def load_optimizer(module: nn.Module, optimizer, folder: Path, step: int):
    """Every rank: the optimizer state of checkpoint ``folder`` (of ``step``), resharded to this
    run's ranks; none before the first step."""
    if step == 0:
        return
    if not (folder / OPTIMIZER_DIR).is_dir():
        raise UserError(f"checkpoint '{folder}' has no {OPTIMIZER_DIR}/ (the sharded optimizer state of an FSDP run); "
                        "it was not written by this program with --data_parallel fsdp")
    state = {"optimizer": get_optimizer_state_dict(module, optimizer)}
    dcp.load(state, checkpoint_id=str(folder / OPTIMIZER_DIR))
    set_optimizer_state_dict(module, optimizer, state["optimizer"])
