"""Whether a tokenizer's vocabulary can be a model's: one line naming both when it cannot.

A model knows its vocabulary only by ids: a tokenizer of the same size that numbers its tokens
otherwise (trained on other text, a smaller one, another family's) is accepted by the model and
silently feeds it the wrong rows. What can be checked is checked: the size and special tokens
against the config, and, where the model came with a tokenizer of its own (a source model's
folder, a run's checkpoint), the special tokens and a few hundred ordinary tokens against it."""

from transformers import PretrainedConfig, PreTrainedTokenizerBase

from ligo.base.errors import UserError
from ligo.models.families import family_of

# The special tokens whose ids a config or a tokenizer may name.
ROLES = ("pad", "cls", "sep", "mask", "bos", "eos", "unk")
# Ordinary tokens compared with a model's own tokenizer: spread over its whole vocabulary, so
# that a tokenizer which agrees on the alphabet (the first ids) but was trained on other text,
# or holds fewer tokens, is told apart.
SAMPLED_TOKENS = 300


def check_tokenizer_fits(config: PretrainedConfig, tokenizer: PreTrainedTokenizerBase, config_name: str,
                         tokenizer_name: str):
    """The tokenizer fits the model config: the family's data has its special tokens, its ids are
    below vocab_size, and the special ids the config names are its own."""
    family = family_of(config.model_type)
    for role in (family.block_start_token, family.block_end_token, family.document_end_token):
        if role is not None and getattr(tokenizer, f"{role}_id") is None:
            raise UserError(f"tokenizer '{tokenizer_name}' has no {role}, which {config.model_type}'s data needs: "
                            f"it is not a {config.model_type} tokenizer; train one with `python -m "
                            f"tokenization.train_tokenizer --kind {family.tokenizer_kind}`")
    if len(tokenizer) > config.vocab_size:
        raise UserError(
            f"tokenizer '{tokenizer_name}' has {len(tokenizer)} tokens but config '{config_name}' has vocab_size "
            f"{config.vocab_size}; use a config whose vocab_size is at least {len(tokenizer)}"
        )
    if tokenizer.pad_token_id != config.pad_token_id:
        raise UserError(
            f"tokenizer '{tokenizer_name}' pads with id {tokenizer.pad_token_id} but config '{config_name}' has "
            f"pad_token_id {config.pad_token_id}; set pad_token_id to {tokenizer.pad_token_id} in the config"
        )
    for role in ROLES:
        ours, theirs = _token_id(tokenizer, role), getattr(config, f"{role}_token_id", None)
        if ours is not None and theirs is not None and ours != theirs:
            raise UserError(f"tokenizer '{tokenizer_name}' has {role} token id {ours} but config '{config_name}' has "
                            f"{role}_token_id {theirs}; set {role}_token_id to {ours} in the config, or pass the "
                            "tokenizer it was made for")


def check_same_vocabulary(tokenizer: PreTrainedTokenizerBase, tokenizer_name: str, model_config: PretrainedConfig,
                          model_name: str, own: PreTrainedTokenizerBase | None, fix: str):
    """``tokenizer`` numbers its tokens as the model ``model_name`` was trained on: no more tokens
    than its vocab_size, the same special ids as its config and, if the model came with its own
    tokenizer ``own``, the same special and ordinary token ids as that one. ``fix`` ends the line."""
    both = f"tokenizer '{tokenizer_name}' is not the vocabulary of model '{model_name}'"
    if len(tokenizer) > model_config.vocab_size:
        raise UserError(f"{both}: it has {len(tokenizer)} tokens, the model {model_config.vocab_size}; {fix}")
    if model_config.vocab_size - len(tokenizer) > padding_slack(model_config.vocab_size):
        raise UserError(f"{both}: it has {len(tokenizer)} tokens, far fewer than the model's {model_config.vocab_size} "
                        f"(a model pads its vocabulary by {padding_slack(model_config.vocab_size)} ids at most); {fix}")
    for role in ROLES:
        ours, theirs = _token_id(tokenizer, role), getattr(model_config, f"{role}_token_id", None)
        if ours is not None and theirs is not None and ours != theirs:
            raise UserError(f"{both}: its {role} token is id {ours}, the model's config has {role}_token_id "
                            f"{theirs}; {fix}")
    if own is None:
        return
    for role in ROLES:
        ours, theirs = _token_id(tokenizer, role), _token_id(own, role)
        if theirs is not None and ours != theirs:
            said = "absent" if ours is None else f"id {ours}"
            raise UserError(f"{both}: its {role} token is {said}, id {theirs} in the model's own tokenizer; {fix}")
    vocabulary = tokenizer.get_vocab()
    for token, token_id in sampled_tokens(own):
        if vocabulary.get(token) != token_id:
            said = "absent" if token not in vocabulary else f"id {vocabulary[token]}"
            raise UserError(f"{both}: token '{token}' is {said} in it but id {token_id} in the model's own tokenizer; "
                            f"{fix}")


def padding_slack(vocab_size: int) -> int:
    """How many ids a model's vocabulary may hold beyond its tokenizer's: rounded up for fast
    matmuls (GPT-2's 50257 to 50304), never by hundreds."""
    return max(128, vocab_size // 64)


def sampled_tokens(tokenizer: PreTrainedTokenizerBase, count: int = SAMPLED_TOKENS) -> list[tuple[str, int]]:
    """``count`` ordinary (not special) tokens and their ids, evenly spread over the vocabulary."""
    special = set(tokenizer.all_special_ids)
    ordinary = sorted((token_id, token) for token, token_id in tokenizer.get_vocab().items()
                      if token_id not in special)
    if len(ordinary) > count:
        ordinary = [ordinary[i * len(ordinary) // count] for i in range(count)]
    return [(token, token_id) for token_id, token in ordinary]


def _token_id(tokenizer: PreTrainedTokenizerBase, role: str) -> int | None:
    # The id only where the token is set: transformers gives an unset role's id as None.
    return getattr(tokenizer, f"{role}_token_id", None) if getattr(tokenizer, f"{role}_token", None) else None
