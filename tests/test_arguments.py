"""The shared command line (ligo/tasks/arguments.py): the authors' flags and config files."""

import shlex

import pytest
import torch

from ligo.base.errors import UserError
from ligo.tasks.arguments import build_parser, parse_args
from ligo.tasks.operator import operator_growth

# The users' commands from the authors' README (paths filled in).
USER_COMMANDS = [
    "--config configs/bert_wiki.txt --config_name configs/bert-6L-512H.json --output_dir out --max_steps 400000 "
    "--warmup_steps 10000 --should_continue",
    "--config configs/bert_wiki.txt --config_name configs/bert-12L-768H.json --output_dir ligo --tune_width "
    "--tune_depth --source_model_path small --fuse_init_scheme stackbert_noisy rand --max_steps 100 "
    "--logging_steps 100 --ckpt_steps 100 --should_continue",
    "--config configs/bert_wiki.txt --config_name configs/bert-12L-768H.json --output_dir out --grow_scheme ligo "
    "--source_model_path small --pretrained_ligo_path ligo --fuse_init_scheme stackbert_noisy rand "
    "--learning_rate 2e-4 --warmup_steps 0 --should_continue",
    "--config configs/roberta_wiki.txt --config_name configs/roberta-6L-512H.json --per_gpu_train_batch_size 64 "
    "--gradient_accumulation_steps 4 --learning_rate 2e-4 --output_dir out --should_continue",
]


@pytest.mark.parametrize("command", USER_COMMANDS)
def test_the_authors_commands_parse(command):
    args = parse_args(shlex.split(command))
    assert args.max_steps in (400000, 100) and args.do_train and args.do_eval and args.mlm and args.shuffle
    assert args.block_size == 126 and args.seed == 95 and args.adam_epsilon == 1e-6


def test_config_file_values_and_command_line_overrides():
    args = parse_args(shlex.split("--config configs/bert_wiki.txt --config_name c.json --output_dir o "
                                  "--learning_rate 1e-4"))
    assert args.tokenizer_name == "bert-base-uncased" and args.model_type == "bert"
    assert args.train_data_file == "data/wiki-cased/en.train.raw"
    assert args.per_gpu_train_batch_size == 64 and args.weight_decay == 0.1 and args.warmup_steps == 10000
    assert args.learning_rate == 1e-4  # the command line wins over the file's 2e-4
    roberta = parse_args(shlex.split("--config configs/roberta_wiki.txt --config_name c.json --output_dir o"))
    assert roberta.tokenizer_name == "roberta-base"
    assert roberta.eval_data_file == "data/wiki-cased-untokenized/en.valid.raw"


def test_growth_flags_and_tying_switch():
    base = "--config configs/bert_wiki.txt --config_name c.json --output_dir o "
    args = parse_args(shlex.split(base + "--fuse_init_scheme stackbert_noisy rand --fuse_init_noise 0.01 0.02"))
    assert args.fuse_init_scheme == ["stackbert_noisy", "rand"] and args.fuse_init_noise == [0.01, 0.02]
    assert args.fuse_tie_param is True
    assert parse_args(shlex.split(base + "--no_fuse_tie_param")).fuse_tie_param is False


def test_every_flag_of_the_spec_exists():
    spec_flags = """train_data_file eval_data_file do_train do_eval col_data split_sent shuffle block_size logging_steps
        ckpt_steps output_dir overwrite_output_dir model_type should_continue model_name_or_path config_name
        tokenizer_name cache_dir overwrite_cache mlm mlm_probability mlm_ratio source_model_path grow_scheme
        tune_depth tune_width fuse_init_scheme fuse_init_noise fuse_tie_param no_fuse_tie_param tune_small_model
        tune_residual tune_residual_noise learning_rate_res weight_decay_res pretrained_ligo_path seed
        per_gpu_train_batch_size per_gpu_eval_batch_size gradient_accumulation_steps max_steps warmup_steps
        warmup_ratio learning_rate weight_decay adam_epsilon max_grad_norm scheduler_type scheduler_cosine_cycles
        scheduler_poly_power local_rank nodes nr fp16 fp16_opt_level layer_drop layer_drop_rate layer_drop_lin_decay
        token_drop token_drop_rate token_drop_start token_drop_end config""".split()
    options = {o.lstrip("-") for action in build_parser()._actions for o in action.option_strings}
    assert set(spec_flags) - options == set()


BASE = "--config configs/bert_wiki.txt --config_name c.json --output_dir o "


@pytest.mark.parametrize(
    "extra, message",
    [
        ("--max_steps 0", "--max_steps must be at least 1, got 0"),
        ("--per_gpu_train_batch_size -2", "--per_gpu_train_batch_size must be at least 1, got -2"),
        ("--gradient_accumulation_steps 0", "--gradient_accumulation_steps must be at least 1"),
        ("--logging_steps -1", "--logging_steps must not be negative"),
        ("--learning_rate 0", "--learning_rate must be positive"),
        ("--warmup_ratio 0.1", "give --warmup_steps or --warmup_ratio, not both"),
        ("--mlm_probability 1.5", "--mlm_probability must be in (0, 1)"),
        ("--fp16 --bf16", "give --fp16 or --bf16, not both"),
        ("--fp16_opt_level O2", "apex is not used"),
        ("--learning_rate nan", "--learning_rate must be a finite number, got nan"),
        ("--weight_decay inf", "--weight_decay must be a finite number, got inf"),
        ("--fuse_init_noise 0.03 nan", "--fuse_init_noise must be a finite number, got nan"),
        ("--layer_drop", "--layer_drop_rate must be in (0, 1) with --layer_drop"),
        ("--layer_drop_rate 0.5", "--layer_drop_rate needs --layer_drop"),
        ("--layer_drop --layer_drop_rate 0.5 --layer_drop_gamma nan",
         "--layer_drop_gamma must be a finite number, got nan"),
        ("--token_drop --token_drop_rate 1", "--token_drop_rate must be in (0, 1)"),
        ("--token_drop --token_drop_rate 0.5 --token_drop_start -1", "--token_drop_start must not be negative"),
        ("--grow_scheme ki --source_model_path s --ki_alpha 0", "--ki_alpha must be in (0, 1]"),
        ("--grow_scheme ki --source_model_path s --ki_temperature inf", "--ki_temperature must be a finite number"),
        ("--grow_scheme ki --ki_steps 10", "--grow_scheme ki needs --source_model_path"),
        ("--grow_scheme mslt --source_model_path s", "--grow_scheme mslt needs --mslt_stage_steps"),
        ("--mslt_stages 9 12", "--mslt_stages and --mslt_stage_steps belong to --grow_scheme mslt"),
        ("--token_drop --token_drop_rate 0.5 --torch_compile", "--torch_compile cannot follow"),
        ("--nodes 2", "launch each node with torchrun"),
        ("--prefetch_factor 4 --num_workers 0", "--prefetch_factor 4 needs DataLoader workers; pass --num_workers 1"),
        ("--prefetch_factor 0", "--prefetch_factor must be at least 1, got 0"),
        ("--torch_compile --torch_compile_backend inductr", "--torch_compile_backend inductr is not a torch.compile"),
    ],
)
def test_bad_values_are_refused_with_the_flag_named(extra, message):
    with pytest.raises(UserError) as err:
        parse_args(shlex.split(BASE + extra))
    assert message in str(err.value)


def test_missing_or_malformed_config_file(tmp_path):
    with pytest.raises(UserError, match=r"config file 'nope.txt' does not exist; give a config file \(name = value "
                                        r"lines\), e.g. configs/bert_wiki.txt"):
        parse_args(shlex.split("--config nope.txt --config_name c.json --output_dir o"))
    bad = tmp_path / "bad.txt"
    bad.write_text("model_type = bert\nlearning-rate: [unclosed\n")
    with pytest.raises(UserError, match="unknown key 'learning-rate'|is malformed"):
        parse_args(shlex.split(f"--config {bad} --config_name c.json --output_dir o"))


def test_gpu_node_options_are_off_by_default():
    args = parse_args(shlex.split(BASE))
    assert (args.torch_compile, args.torch_compile_backend) == (False, "inductor")
    assert (args.prefetch_factor, args.pin_memory) == (None, "auto")  # auto: pinned exactly on CUDA


def test_the_operator_step_grows_per_layer_where_memory_is_asked_for():
    def growth(flags):
        return operator_growth(parse_args(shlex.split(BASE + flags)))

    assert [growth(""), growth("--gradient_checkpointing"), growth("--data_parallel fsdp")] == \
        ["whole", "per_layer", "per_layer"]
    assert growth("--gradient_checkpointing --operator_growth per_layer") == "per_layer"
    assert growth("--data_parallel fsdp --operator_growth whole") == "whole"


@pytest.mark.skipif(torch.cuda.is_available(), reason="--pin_memory on is allowed on a GPU")
def test_pin_memory_on_without_a_gpu_is_refused():
    with pytest.raises(UserError) as err:
        parse_args(shlex.split(BASE + "--pin_memory on"))
    assert str(err.value) == ("--pin_memory on needs a CUDA GPU (pinned memory speeds up copies to it) and none is "
                              "visible; use --pin_memory auto or off")


@pytest.mark.skipif(torch.cuda.is_available(), reason="inductor compiles for the GPU there")
def test_inductor_without_a_cpp_compiler_is_refused(monkeypatch):
    from torch._inductor import config

    monkeypatch.setattr(config.cpp, "cxx", ("no-such-c++-compiler",))
    with pytest.raises(UserError, match="inductor backend on CPU needs a C[+][+] compiler .* pass "
                                        "--torch_compile_backend aot_eager"):
        parse_args(shlex.split(BASE + "--torch_compile"))
    assert parse_args(shlex.split(BASE + "--torch_compile --torch_compile_backend aot_eager")).torch_compile
