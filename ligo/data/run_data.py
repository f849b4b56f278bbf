"""What the training loop needs of a run's data, whatever it is made of: the datasets, their
collators, how a batch is counted (FLOPs and tokens or images) and how a model is evaluated on
it. ``build_run_data`` picks the pipeline by the family's objective: text (ligo/data/dataset.py,
ligo/data/masking.py) or images (ligo/data/image_run_data.py)."""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ligo.data.dataset import BlockDataset
from ligo.data.masking import SeededMLMCollator
from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
from ligo.models.families import family_of
from ligo.models.loading import check_tokenizer_fits, resolve_block_size
from ligo.training.evaluate import evaluate_language_model

# Evaluation masks do not follow --seed: every run is scored on the same masked blocks.
EVAL_MASK_SEED = 0


@dataclass
class RunData:
    train: torch.utils.data.Dataset | None  # None: evaluation only
    eval: torch.utils.data.Dataset | None  # None: no evaluation
    collate: Callable[[list], dict]
    eval_collate: Callable[[list], dict]
    processor: object  # saved beside every checkpoint: a language model's tokenizer, an image model's processor
    unit: str  # what ``units`` counts, the key of the count in metrics.jsonl: "tokens" or "images"
    shape: Callable[[dict], tuple[int, int]]  # (sequences, tokens each) of a batch: the FLOPs count's
    units: Callable[[dict], int]
    # (model, dataset, collate, ctx, batch_size, autocast) -> metrics, sharded over the ranks
    evaluate: Callable[..., dict]


def build_run_data(args, config, ctx) -> RunData:
    """The run's data; ``args.block_size`` is resolved (language models) on the way."""
    if family_of(args.model_type).objective == "image":
        from ligo.data.image_run_data import image_run_data  # torchvision only where images are trained

        return image_run_data(args, config, ctx)
    return text_run_data(args, config)


def text_run_data(args, config) -> RunData:
    tokenizer = load_tokenizer(args.tokenizer_name)
    check_tokenizer_fits(config, tokenizer, args.config_name, args.tokenizer_name)
    args.block_size = resolve_block_size(args.block_size, config, args.model_type)
    tag = tokenizer_tag(args.tokenizer_name)
    # --split_sent, the authors' flag, is not read here: their dataset never read it either, and
    # trained on contiguous windows (their configs set it all the same).
    family = family_of(args.model_type)
    tokens = dict(pack_sentences=args.pack_sentences, start_token=family.block_start_token,
                  end_token=family.block_end_token, separator_token=family.document_end_token)
    train = BlockDataset(args.train_data_file, tag, tokenizer, args.block_size, **tokens) if args.do_train else None
    evaluation = BlockDataset(args.eval_data_file, tag, tokenizer, args.block_size, **tokens) if args.do_eval else None
    mlm = family.objective == "mlm"  # a causal LM's labels are its inputs
    shift = family.causal

    def evaluate(model, dataset, collate, ctx, batch_size, autocast):
        return evaluate_language_model(model, dataset, collate, ctx, batch_size, autocast, shift=shift)

    return RunData(
        train=train, eval=evaluation,
        collate=SeededMLMCollator(tokenizer, args.mlm_probability, seed=args.seed, mlm=mlm),
        eval_collate=SeededMLMCollator(tokenizer, args.mlm_probability, seed=EVAL_MASK_SEED, mlm=mlm),
        processor=tokenizer, unit="tokens",
        shape=lambda batch: tuple(batch["input_ids"].shape),
        units=lambda batch: int(batch["attention_mask"].sum()),
        evaluate=evaluate,
    )
