"""A language model's run data: tokenised HDF5 files read as blocks (ligo/data/dataset.py) with
the family's special tokens, masked (MLM) or left as they are (causal LM) by a seeded collator."""

from ligo.data.dataset import BlockDataset
from ligo.data.masking import SeededMLMCollator
from ligo.data.run_data import RunData
from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
from ligo.data.vocabulary import check_tokenizer_fits
from ligo.models.families import family_of
from ligo.models.loading import resolve_block_size
from ligo.models.target_config import target_name

# Evaluation masks do not follow --seed: every run is scored on the same masked blocks.
EVAL_MASK_SEED = 0


def text_run_data(args, config) -> RunData:
    tokenizer = load_tokenizer(args.tokenizer_name)
    check_tokenizer_fits(config, tokenizer, target_name(args), args.tokenizer_name)
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

    return RunData(
        train=train, eval=evaluation,
        collate=SeededMLMCollator(tokenizer, args.mlm_probability, seed=args.seed, mlm=mlm),
        eval_collate=SeededMLMCollator(tokenizer, args.mlm_probability, seed=EVAL_MASK_SEED, mlm=mlm),
        processor=tokenizer, unit="tokens",
        shape=lambda batch: tuple(batch["input_ids"].shape),
        units=lambda batch: int(batch["attention_mask"].sum()),
        causal=family.causal,
    )
