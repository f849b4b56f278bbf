"""The names of every growth method and initialisation scheme, defined here once: the command
line offers them and the tasks and growth code check against them."""

# How LiGO's depth coefficients and width expansions start (--fuse_init_scheme DEPTH WIDTH).
DEPTH_SCHEMES = ("rand", "rand_softmax", "stackbert", "stackbert_noisy", "interlace", "interlace_noisy")
WIDTH_SCHEMES = ("rand", "rand_softmax", "sel", "sel_noisy")
INIT_SCHEMES = tuple(dict.fromkeys(DEPTH_SCHEMES + WIDTH_SCHEMES))

# Baselines that write the large model's weights from the small model's in one go.
BASELINES = ("stackbert", "interpolation", "net2net", "bert2bert_fpi", "bert2bert_aki", "stackbert_direct_copy",
             "interpolation_direct_copy")
# Methods that use the small model while the large one trains: Knowledge Inheritance (a teacher)
# and MSLT (stages of layers).
TRAINING_METHODS = ("ki", "mslt")
# --grow_scheme: none (from scratch or --model_name_or_path), a LiGO operator, a baseline, a training method.
GROW_SCHEMES = ("none", "ligo", *BASELINES, *TRAINING_METHODS)
