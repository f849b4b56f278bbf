"""Fine-tune a pretrained BERT/RoBERTa (one of our runs or checkpoints, or a Hugging Face
model) on SQuAD v1.1 and v2.0, several seeds each, score it with the official metrics and fill
its SQuAD cells in a results table (beside its GLUE ones when given the same table).

    python run_squad.py --model_name_or_path runs/ligo --squad_dir data/squad --output_dir runs/ligo-squad --name LiGO

Defaults are the paper's: 2 epochs, learning rate 5e-5, batch 12, seeds 1 2 3; windows of 384
tokens with stride 128. Reads the official JSON files from --squad_dir; downloads nothing.
Runs on the first CUDA GPU, else on the CPU.
"""

from ligo.base.errors import exit_on_user_error
from ligo.finetune.squad.arguments import parse_squad_args
from ligo.finetune.squad_run import run_squad


@exit_on_user_error
def main(argv=None):
    run_squad(parse_squad_args(argv))


if __name__ == "__main__":
    main()
