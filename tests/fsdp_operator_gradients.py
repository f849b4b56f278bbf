"""Run by tests/test_fsdp.py under torchrun (gloo, CPU): one LiGO operator step's gradients with
the operator sharded by FSDP and grown per layer (ligo/training/sharding.py), each rank on its
half of a batch; rank 0 writes them whole (gathered from the shards) to ``OUT``.

    python -m torch.distributed.run --nproc_per_node 2 tests/fsdp_operator_gradients.py FOLDER FAMILY...

writes FOLDER/FAMILY.safetensors (the model in eval mode: no dropout, the same on any number of processes)."""

import sys
from pathlib import Path
from types import SimpleNamespace

from operator_gradients import batch_and_operator
from safetensors.torch import save_file

from ligo.tasks.operator import OperatorTask
from ligo.training.distributed import init, shutdown
from ligo.training.sharding import DataParallel, local


def main(folder: Path, families: list[str]):
    ctx = init(600)
    args = SimpleNamespace(data_parallel="fsdp", bf16=False, fsdp_cpu_offload=False)
    for family in families:
        operator, large_config, batch = batch_and_operator(family, folder)
        task = OperatorTask(operator, large_config, per_layer=True)
        parallel = DataParallel(task.module, task.sharding_units(), args, ctx, find_unused_parameters=False)
        task.module.eval()
        share = len(batch["input_ids"]) // ctx.world_size
        mine = {name: t[ctx.rank * share:(ctx.rank + 1) * share] for name, t in batch.items()}
        task.loss(parallel.model, mine).backward()
        gradients = {name: local(p.grad) for name, p in operator.named_parameters() if p.grad is not None}
        if ctx.is_main:
            save_file({name: g.contiguous() for name, g in gradients.items()}, str(folder / f"{family}.safetensors"))
    shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
