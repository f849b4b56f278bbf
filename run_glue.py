"""Fine-tune a pretrained BERT/RoBERTa (one of our runs or checkpoints, or a Hugging Face
model) on GLUE tasks, several seeds each, and append its row to a GLUE table.

    python run_glue.py --model_name_or_path runs/ligo --glue_dir data/glue --output_dir runs/ligo-glue --name LiGO

Defaults are the paper's: 3 epochs, learning rate 1e-4, batch 32, 128 tokens, seeds 1 2 3.
Runs on the first CUDA GPU, else on the CPU.
"""

from ligo.base.errors import exit_on_user_error
from ligo.finetune.glue.arguments import parse_glue_args
from ligo.finetune.glue_run import run_glue


@exit_on_user_error
def main(argv=None):
    run_glue(parse_glue_args(argv))


if __name__ == "__main__":
    main()
