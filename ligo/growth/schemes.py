"""The names of every growth method and initialisation scheme, defined here once: the command
line offers them and the tasks and growth code check against them."""

from ligo.base.errors import UserError

# How LiGO's depth coefficients and width expansions start (--fuse_init_scheme DEPTH WIDTH).
DEPTH_SCHEMES = ("rand", "rand_softmax", "stackbert", "stackbert_noisy", "interlace", "interlace_noisy")
WIDTH_SCHEMES = ("rand", "rand_softmax", "sel", "sel_noisy")
INIT_SCHEMES = tuple(dict.fromkeys(DEPTH_SCHEMES + WIDTH_SCHEMES))

# Baselines that write the large model's weights from the small model's in one go.
BASELINES = ("stackbert", "interpolation", "net2net", "bert2bert_fpi", "bert2bert_aki", "stackbert_direct_copy",
             "interpolation_direct_copy")
# The baselines that widen by Net2Net's copies (bert2BERT's FPI and AKI included): --grow_noise splits them.
WIDENING = ("net2net", "bert2bert_fpi", "bert2bert_aki")
# Methods that use the small model while the large one trains: Knowledge Inheritance (a teacher)
# and MSLT (stages of layers).
TRAINING_METHODS = ("ki", "mslt")
# --grow_scheme: none (from scratch or --model_name_or_path), a LiGO operator, a baseline, a training method.
GROW_SCHEMES = ("none", "ligo", *BASELINES, *TRAINING_METHODS)


def check_grow_noise(noise: float, scheme: str):
    """--grow_noise: a non-negative fraction, for a scheme that copies units."""
    if noise < 0:
        raise UserError(f"--grow_noise must not be negative, got {noise}")
    if noise and scheme not in WIDENING:
        raise UserError(f"--grow_noise {noise} splits the copies of Net2Net widening; --grow_scheme {scheme} makes "
                         f"none: use one of {', '.join(WIDENING)}, or drop --grow_noise")
