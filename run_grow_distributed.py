"""Train a LiGO growth operator from a small pretrained model to a larger model config.

    python run_grow_distributed.py --config configs/bert_wiki.txt --config_name configs/bert-12L-768H.json \
        --output_dir runs/ligo --tune_width --tune_depth --source_model_path runs/bert-small \
        --fuse_init_scheme stackbert_noisy rand --max_steps 100 --logging_steps 100 --ckpt_steps 100 --should_continue

The operator is trained by the training loss of the large model it grows (masked LM, causal LM,
or for a ViT the classification loss on --data_path's images, DeiT's recipe), with the same
loop, logs and checkpoints as pretraining; then grow with
``run_lm_distributed.py`` (or ``run_image_distributed.py``) ``--grow_scheme ligo --pretrained_ligo_path <output_dir>``.
"""

from ligo.base import startup_signals

# First, before the imports below take their seconds: a stop signal from now on is a preemption
# (ligo/base/startup_signals.py), not a death that leaves nothing for a requeue script to see.
startup_signals.hold()

import functools

from ligo.base.errors import exit_on_user_error
from ligo.tasks.arguments import parse_args
from ligo.tasks.operator import build_operator_task, check_operator_args
from ligo.training.distributed import launch
from ligo.training.session import run_session


@exit_on_user_error
def main():
    args = parse_args()
    check_operator_args(args)
    launch(functools.partial(run_session, build_task=build_operator_task), args)


if __name__ == "__main__":
    main()
