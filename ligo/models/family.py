"""What a model family file provides (ligo/models/bert.py, roberta.py, gpt2.py, vit.py): everything
the family-agnostic code (growth, training, reports) needs to know of a family. Adding a family is
one new module that builds a ``Family`` and one line in ``ligo/models/families.py``."""

from collections.abc import Callable
from dataclasses import dataclass

from transformers import PretrainedConfig, PreTrainedModel

from ligo.models.layout import Layout


def run_hugging_face(model, batch: dict):
    """A language model's training batch through its Hugging Face class, which computes the loss
    itself. No key/value cache: training never reuses one (a decoder would build it each step, and
    Hugging Face's activation checkpointing turns it off with a warning)."""
    return model(**batch, use_cache=False)


# The fine-tuning heads a family may declare (``Family.finetune_heads``): the Hugging Face task
# classes run_glue.py (AutoModelForSequenceClassification) and run_squad.py
# (AutoModelForQuestionAnswering) put on its checkpoints.
SEQUENCE_CLASSIFICATION = "sequence-classification"
QUESTION_ANSWERING = "question-answering"


# Fields of every Hugging Face config that a grown model may set otherwise than its source: records
# (architectures, _name_or_path, versions), how the model is run (outputs, cache, chunking,
# checkpointing, dtype) and how new weights are drawn (initializer_range): none changes what the
# model computes from its weights. And tie_word_embeddings, which growth maps either way (an untied
# target's decoder grows from the source's, a tied one is the grown word embedding): the authors'
# commands grow their untied BERT-Small (configs/bert-6L-512H.json) into a tied BERT-Base. Every
# field a family declares neither grown nor free must match.
FREE_FIELDS = ("architectures", "_name_or_path", "transformers_version", "dtype", "torch_dtype", "output_hidden_states",
               "output_attentions", "return_dict", "use_cache", "output_past", "chunk_size_feed_forward",
               "gradient_checkpointing", "initializer_range", "tie_word_embeddings")


@dataclass(frozen=True)
class SizeFields:
    """The config fields that hold a model's sizes. Hugging Face maps the standard names to a
    family's own (GPT-2's ``n_layer``); the FFN size has no standard name."""

    layers: str = "num_hidden_layers"
    hidden: str = "hidden_size"
    heads: str = "num_attention_heads"
    ffn: str = "intermediate_size"
    # Grouped-query attention's key/value heads (Llama's num_key_value_heads); None: one per query head.
    kv_heads: str | None = None


@dataclass(frozen=True)
class Family:
    model_type: str  # Hugging Face's config.model_type
    config_class: type[PretrainedConfig]
    pretraining_class: type[PreTrainedModel]  # the unmodified Hugging Face model pretraining trains
    # the pretraining loss: "mlm" (masked LM), "clm" (causal LM: next token, shifted labels) or
    # "image" (image classification: ligo/data/images.py's batches)
    objective: str
    layout: Callable[[], Layout]  # where every parameter lives and which space each dimension is in
    space_sizes: Callable[[PretrainedConfig], dict[str, int]]  # the size of each space of a config
    # Forward FLOPs of one sequence, per term, and the terms torch runs as matmuls (ligo/models/flops.py).
    flops_breakdown: Callable[[PretrainedConfig, int, float], dict[str, int]]
    matmul_terms: tuple[str, ...]
    # Config fields a larger model may grow (field, what it counts), and fields both must share.
    growable_fields: tuple[tuple[str, str], ...]
    shared_fields: tuple[str, ...]
    # Where the encoder's list of layers is, e.g. "bert.encoder.layer": layer dropping, token
    # dropping and MSLT's stages run a subset of it. Its layers are called with the hidden states
    # first and the attention mask second (or as ``attention_mask=``), as Hugging Face's encoders do.
    layers_path: str
    position_offset: int = 0  # position slots before the first token's (RoBERTa: padding_idx + 1)
    # The tokenizer's special tokens (attribute names) the data puts around each block, and
    # between two lines of the token stream: BERT's [CLS] block [SEP]; GPT-2's <|endoftext|>
    # before each block and after each line (the line is a document of the corpus).
    block_start_token: str | None = "cls_token"
    block_end_token: str | None = "sep_token"
    document_end_token: str | None = None
    example_config: str = ""  # a config JSON of this family, for error messages
    tokenizer_kind: str = "bert-uncased"  # tokenization.train_tokenizer's --kind for it, for error messages
    # A training batch through the model (the module as trained: plain, DDP or grown): an output
    # with ``.loss`` and ``.logits``. Every task calls it, so the tasks need not know the objective.
    run_batch: Callable = run_hugging_face
    # The fine-tuning heads its checkpoints are fine-tuned with (SEQUENCE_CLASSIFICATION,
    # QUESTION_ANSWERING): run_glue.py and run_squad.py refuse, in one line, a checkpoint whose
    # family lacks the head they need. Empty by default: a family registered without heads (GPT-2
    # and ViT, whose tokens and inputs these scripts' data do not fit; Llama, once added) is
    # refused, until its data, padding and head are supported and it declares them.
    finetune_heads: tuple[str, ...] = ()
    # A checkpoint users bring (ligo/models/loading.py read_model) may be of another class of the
    # family. The pretraining class's head is its weights outside the base model (Hugging Face's
    # ``base_model_prefix``): a base-model checkpoint (BertModel) lacks it, and ``head_name``
    # names it in messages. ``extras`` are the modules other classes hold that the pretraining
    # class has no place for (path under the base model or from the top, and what it is): they
    # are dropped, and named so.
    head_name: str = "pretraining head"
    extras: tuple[tuple[str, str], ...] = ()
    # What a target config may set otherwise than its source (check_growable; ligo/models/target_config.py
    # derives targets from sources). Grown: ``growable_fields``, ``size_fields`` and ``derived_fields``,
    # sizes the config class recomputes from the others when absent (ViT's pooler_output_size). Free:
    # FREE_FIELDS and ``free_fields``, settings of training (dropout) or of heads pretraining does not
    # use. ``field_defaults``: (field, value) for fields a config may lack, as the models read them.
    size_fields: SizeFields = SizeFields()
    derived_fields: tuple[str, ...] = ()
    free_fields: tuple[str, ...] = ()
    field_defaults: tuple[tuple[str, object], ...] = ()
    # The attention head size of a config where the config sets it (Llama's head_dim); None: the
    # hidden size over the heads, which must divide it (BERT, GPT-2, ViT).
    head_size: Callable[[PretrainedConfig], int] | None = None
    # Refuses, in one line (UserError, naming ``name``), a config of the family that growth or its
    # layout does not support (Llama's biases); called as configs load and as pairs are checked.
    check_config: Callable[[PretrainedConfig, str], None] | None = None

    @property
    def special_tokens_per_block(self) -> int:
        return (self.block_start_token is not None) + (self.block_end_token is not None)

    @property
    def is_language_model(self) -> bool:
        return self.objective in ("mlm", "clm")

    @property
    def causal(self) -> bool:
        return self.objective == "clm"
