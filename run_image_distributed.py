"""Train an image classifier (ViT / DeiT) on an ImageFolder tree with DeiT's recipe: from scratch,
from a checkpoint, or grown from a small model (LiGO or a baseline, --grow_scheme).

    python run_image_distributed.py --config configs/vit_imagenet.txt --config_name configs/vit-12L-384H.json \\
        --data_path /data/imagenet --output_dir runs/deit-s --should_continue

The same loop, checkpoints, exact resume, logs and DDP as run_lm_distributed.py (docs/vision.md):
uses every local GPU (one process each), or one CPU process; under torchrun, as many processes and
nodes as torchrun starts. A LiGO operator for a ViT is trained by run_grow_distributed.py with
the same data flags.
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
    # The pretraining task is the language models': the family's run_batch gives its loss.
    launch(functools.partial(run_session, build_task=build_lm_task), parse_args(modality="image"))


if __name__ == "__main__":
    main()
