"""Pretrain a language model (BERT, RoBERTa: masked LM; GPT-2: causal LM): from scratch, from a
checkpoint, or grown from a small model (LiGO or a baseline, --grow_scheme). Image models:
run_image_distributed.py.

    python run_lm_distributed.py --config configs/bert_wiki.txt --config_name configs/bert-6L-512H.json \
        --output_dir runs/bert-small --max_steps 400000 --warmup_steps 10000 --should_continue

Uses every local GPU (one process each), or one CPU process; under torchrun, as many
processes and nodes as torchrun starts.
"""

from ligo.base import startup_signals

# First, before the imports below take their seconds: a stop signal from now on is a preemption
# (ligo/base/startup_signals.py), not a death that leaves nothing for a requeue script to see.
startup_signals.hold()

import functools

from ligo.base.errors import exit_on_user_error
from ligo.tasks.arguments import parse_args
from ligo.tasks.lm import build_lm_task
from ligo.training.distributed import launch
from ligo.training.session import run_session


@exit_on_user_error
def main():
    launch(functools.partial(run_session, build_task=build_lm_task), parse_args(modality="text"))


if __name__ == "__main__":
    main()
