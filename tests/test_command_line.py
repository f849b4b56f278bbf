"""The one parser class (ligo/base/command_line.py): no abbreviations, argparse's errors in one line
naming the closest flag or choice, config files checked first; and no command line built without it.
Through the real scripts: the "flags (issue 30)" cases of test_bad_inputs.py."""

import ast
import os
from pathlib import Path

import pytest

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError
from ligo.finetune.glue.arguments import build_glue_parser
from ligo.tasks.arguments import build_parser

REPO = Path(__file__).resolve().parents[1]


def training_like(prog="train.py") -> OneLineParser:
    parser = OneLineParser(prog=prog)
    parser.add_argument("--config", is_config_file=True)
    parser.add_argument("--max_steps", type=int, default=10)
    parser.add_argument("--max_grad_norm", type=float, default=1.0)
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--learning_rate_res", type=float)
    parser.add_argument("--model_type", choices=["bert", "roberta", "gpt2", "vit"])
    parser.add_argument("--do_train", action="store_true")
    return parser


def error_of(parser, argv) -> str:
    with pytest.raises(UserError) as err:
        parser.parse_args(argv)
    return str(err.value)


def test_exact_flags_parse_as_argparse_does():
    args = training_like().parse_args(["--max_steps=3", "--learning_rate", "2e-4", "--model_type", "gpt2",
                                       "--do_train"])
    assert (args.max_steps, args.learning_rate, args.model_type, args.do_train) == (3, 2e-4, "gpt2", True)
    assert training_like().parse_args([]).max_grad_norm == 1.0


def test_an_abbreviation_is_an_unknown_flag_with_its_completion_named():
    # argparse's default would run this as --max_steps 1
    assert error_of(training_like(), ["--max_step", "1"]) == (
        "unrecognized arguments: --max_step 1; did you mean --max_steps? See `python train.py --help`")
    # argparse's default: "ambiguous option: --learning_rat could match --learning_rate, --learning_rate_res"
    assert error_of(training_like(), ["--learning_rat", "1e-4"]).startswith(
        "unrecognized arguments: --learning_rat 1e-4; did you mean --learning_rate?")
    assert "did you mean --max_steps?" in error_of(training_like(), ["--max_step=1"])


def test_unknown_flags_name_their_closest_flags():
    assert "unrecognized arguments: --lerning_rate 3; did you mean --learning_rate?" in error_of(
        training_like(), ["--lerning_rate", "3"])
    message = error_of(training_like(), ["--max_step", "1", "--do_trian"])
    assert "did you mean --max_steps for --max_step, --do_train for --do_trian?" in message
    # nothing close, or not a flag: no guess; a prog that is a whole command is kept whole
    assert error_of(training_like("python -m tool"), ["--zzz", "stray"]) == (
        "unrecognized arguments: --zzz stray; see `python -m tool --help`")


def test_an_invalid_choice_names_the_closest_one():
    assert error_of(training_like(), ["--model_type", "bertt"]) == (
        "argument --model_type: invalid choice: 'bertt' (choose from 'bert', 'roberta', 'gpt2', 'vit'); "
        "did you mean bert? See `python train.py --help`")
    assert error_of(training_like(), ["--model_type", "xlnet"]).endswith(
        "(choose from 'bert', 'roberta', 'gpt2', 'vit'); see `python train.py --help`")


def test_other_argparse_errors_are_one_line_too():
    assert error_of(training_like(), ["--max_steps", "many"]) == (
        "argument --max_steps: invalid int value: 'many'; see `python train.py --help`")
    assert error_of(training_like(), ["--max_steps"]) == (
        "argument --max_steps: expected one argument; see `python train.py --help`")


def test_sub_commands_share_the_class_and_their_flags_are_guessed():
    parser = OneLineParser(prog="python -m tool")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("movement").add_argument("--operator")
    assert error_of(parser, ["movment"]).startswith("argument command: invalid choice: 'movment'")
    assert "did you mean movement?" in error_of(parser, ["movment"])
    assert "did you mean --operator?" in error_of(parser, ["movement", "--operatr", "x"])
    assert parser.parse_args(["movement", "--operator", "x"]).operator == "x"


def test_help_still_prints_and_exits_0(capsys):
    with pytest.raises(SystemExit) as stop:
        training_like().parse_args(["--help"])
    assert stop.value.code == 0
    assert "--max_steps MAX_STEPS" in capsys.readouterr().out


def test_config_file_keys_are_flags_spelt_out(tmp_path):
    config = tmp_path / "run.txt"
    config.write_text("max_steps = 5\nmodel_type = roberta\n")
    args = training_like().parse_args(["--config", str(config), "--max_steps", "7"])
    assert (args.max_steps, args.model_type) == (7, "roberta")  # the command line wins
    config.write_text("max_step = 5\n")  # an abbreviated key: refused, not read as max_steps
    assert error_of(training_like(), ["--config", str(config)]) == (
        f"config file '{config}': unknown key 'max_step' (did you mean 'max_steps'?); remove or correct it")
    config.write_text("model_type = bertt\n")
    assert "invalid choice: 'bertt'" in error_of(training_like(), [f"--config={config}"])


def test_a_folder_or_a_missing_file_as_config_is_named_so(tmp_path):
    fix = "give a config file (name = value lines), e.g. configs/bert_wiki.txt"
    assert error_of(training_like(), ["--config", str(tmp_path)]) == f"--config '{tmp_path}' is a folder; {fix}"
    assert error_of(build_parser(), ["--config", str(tmp_path)]) == f"--config '{tmp_path}' is a folder; {fix}"
    missing = tmp_path / "nope.txt"
    assert error_of(build_glue_parser(), ["--config", str(missing)]) == (
        f"config file '{missing}' does not exist; {fix}")


def test_the_scripts_parsers_refuse_abbreviations():
    base = ["--config_name", "c.json", "--output_dir", "o"]
    assert error_of(build_parser(), [*base, "--max_step", "1"]).startswith(
        "unrecognized arguments: --max_step 1; did you mean --max_steps? See `python ")
    assert error_of(build_glue_parser(), ["--num_train_epoch", "1"]) == (
        "unrecognized arguments: --num_train_epoch 1; did you mean --num_train_epochs? See `python run_glue.py --help`")


def test_abbreviations_cannot_be_turned_back_on():
    with pytest.raises(TypeError):
        OneLineParser(allow_abbrev=True)


# ---------------------------------------------------------------- every command line uses the class

PARSER_NAMES = {"ArgumentParser", "ArgParser", "getArgumentParser", "getArgParser", "get_argument_parser"}


def parsers_built_outside_the_class(source: str) -> list[int]:
    """Lines that build (or subclass) an argparse/configargparse parser other than through OneLineParser."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            named = [node.func]
        elif isinstance(node, ast.ClassDef):
            named = node.bases
        else:
            continue
        for name in named:
            if (name.attr if isinstance(name, ast.Attribute) else getattr(name, "id", None)) in PARSER_NAMES:
                lines.append(node.lineno)
    return lines


SKIPPED = ("runs", "__pycache__")  # and hidden folders: .venv, .git


def python_files():
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = [name for name in subfolders if not name.startswith(".") and name not in SKIPPED]
        yield from (Path(folder) / name for name in files if name.endswith(".py"))


def test_the_scan_finds_a_plain_parser():
    assert parsers_built_outside_the_class("import argparse\np = argparse.ArgumentParser(prog='x')\n") == [2]
    assert parsers_built_outside_the_class("from configargparse import ArgParser\nArgParser()\n") == [2]
    assert parsers_built_outside_the_class("class P(argparse.ArgumentParser):\n    pass\n") == [1]
    assert parsers_built_outside_the_class("p = OneLineParser(prog='x')\n") == []


def test_every_command_line_is_built_with_the_one_class():
    home = REPO / "ligo" / "base" / "command_line.py"  # the class itself subclasses configargparse's
    offenders = [f"{path.relative_to(REPO)}:{line}" for path in python_files() if path != home
                 for line in parsers_built_outside_the_class(path.read_text(encoding="utf-8"))]
    assert offenders == [], (f"build these with ligo.base.command_line.OneLineParser (no abbreviations, one-line "
                             f"errors): {', '.join(offenders)}")
    scanned = {path.relative_to(REPO).as_posix() for path in python_files()}
    assert {"run_glue.py", "ligo/tasks/arguments.py", "data/wiki/split_lines.py", "bench/__main__.py"} <= scanned
