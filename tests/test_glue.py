"""GLUE fine-tuning (run_glue.py): the TSV readers on the real files' layouts, the metrics
against hand-computed values, the table, and whole runs on small GLUE-format fixtures with
tiny BERT and RoBERTa models. Nothing is downloaded."""

import csv
import json
import os
import shutil
import statistics
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from glue_fixtures import corpus_lines, write_glue, write_tsv
from training_helpers import refused_while_held
from transformers import (
    BertConfig,
    BertForMaskedLM,
    GPT2Config,
    RobertaConfig,
    RobertaForMaskedLM,
    T5Config,
    ViTConfig,
)

from ligo.base.errors import UserError, exit_on_user_error
from ligo.finetune.glue import metrics as glue_metrics
from ligo.finetune.glue.arguments import parse_glue_args
from ligo.finetune.glue.data import read_split, read_task
from ligo.finetune.glue.model import load_classifier
from ligo.finetune.glue.tasks import TABLE_COLUMNS, TASKS, get_tasks
from ligo.finetune.glue_run import run_glue
from ligo.finetune.model import check_finetune_head
from ligo.finetune.table import add_results, check_table, csv_header, csv_path
from ligo.finetune.train import total_steps
from ligo.models.family import QUESTION_ANSWERING, SEQUENCE_CLASSIFICATION
from tokenization.train_tokenizer import train_tokenizer

REPO = Path(__file__).resolve().parents[1]
# Tiny models gain nothing from a second thread, and on a shared 2-core machine two
# spinning OpenMP threads can slow a run tenfold.
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
# Enough for the tiny random models to learn SST-2's word rule in seconds.
FAST = ["--num_train_epochs", "10", "--learning_rate", "1e-3", "--per_device_train_batch_size", "16",
        "--max_seq_length", "32"]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory) -> Path:
    return write_glue(tmp_path_factory.mktemp("glue") / "glue", train_rows=96, dev_rows=40)


def _tiny_model(folder: Path, family: str) -> Path:
    """A random tiny masked-LM model saved with its tokenizer, as our checkpoints are."""
    corpus = folder / "corpus.txt"
    folder.mkdir(parents=True, exist_ok=True)
    corpus.write_text("\n".join(corpus_lines()) + "\n")
    tokenizer = train_tokenizer("roberta" if family == "roberta" else "bert-uncased", [corpus], 1000)
    sizes = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                 vocab_size=len(tokenizer))
    torch.manual_seed(0)
    if family == "roberta":
        model = RobertaForMaskedLM(RobertaConfig(**sizes, max_position_embeddings=66, pad_token_id=1, bos_token_id=0,
                                                 eos_token_id=2))
    else:
        model = BertForMaskedLM(BertConfig(**sizes, max_position_embeddings=64))
    model_dir = folder / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(str(model_dir))
    return model_dir


@pytest.fixture(scope="module")
def bert_model(tmp_path_factory) -> Path:
    return _tiny_model(tmp_path_factory.mktemp("bert"), "bert")


@pytest.fixture(scope="module")
def roberta_model(tmp_path_factory) -> Path:
    return _tiny_model(tmp_path_factory.mktemp("roberta"), "roberta")


def run_script(python, *args):
    """run_glue.py on ``python``: the warm interpreter (tests/warm_python.py)."""
    return subprocess.run([python, "run_glue.py", *map(str, args)], cwd=REPO, env=ENV, capture_output=True,
                          text=True)


def run_in_process(argv):
    """What run_glue.py's main does, without a new interpreter."""
    exit_on_user_error(lambda: run_glue(parse_glue_args([str(a) for a in argv])))()


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- metrics

def test_classification_metrics_match_hand_computed_values():
    labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    predictions = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]
    # TP=3 FN=1 FP=1 TN=5: accuracy 8/10; precision = recall = 3/4, so F1 = 3/4;
    # Matthews = (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (15-1)/sqrt(4*4*6*6) = 14/24.
    assert glue_metrics.accuracy(predictions, labels) == pytest.approx(0.8)
    assert glue_metrics.f1(predictions, labels) == pytest.approx(0.75)
    assert glue_metrics.matthews(predictions, labels) == pytest.approx(14 / 24)
    assert glue_metrics.compute_metrics(("f1", "acc"), predictions, labels) == pytest.approx({"f1": 0.75, "acc": 0.8})


def test_correlations_match_hand_computed_values():
    # Deviations from the mean 2.5: (-1.5, -.5, .5, 1.5) and (-1.5, .5, -.5, 1.5): covariance sum
    # 2.25 - .25 - .25 + 2.25 = 4, variance sums 5 and 5, so r = 4/5; the ranks are the values.
    assert glue_metrics.pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert glue_metrics.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    # Squares: same order (Spearman 1); Pearson = 25 / sqrt(5 * 129) (deviations -6.5, -3.5, 1.5, 8.5).
    assert glue_metrics.spearman([1, 2, 3, 4], [1, 4, 9, 16]) == pytest.approx(1.0)
    assert glue_metrics.pearson([1, 2, 3, 4], [1, 4, 9, 16]) == pytest.approx(25 / (5 * 129) ** 0.5)


def test_constant_predictions_score_zero_not_nan():
    assert glue_metrics.pearson([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]) == 0.0
    assert glue_metrics.spearman([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]) == 0.0
    assert glue_metrics.matthews([1, 1, 1, 1], [0, 1, 0, 1]) == 0.0


# ---------------------------------------------------------------- tasks and readers

def test_tasks_by_key_or_folder_name_in_any_case():
    assert [t.key for t in get_tasks(["SST-2", "mnli", "sts-b", "CoLA"])] == ["sst2", "mnli", "stsb", "cola"]
    with pytest.raises(UserError, match="unknown GLUE task 'sst3'"):
        get_tasks(["sst3"])
    assert [c.label for c in TABLE_COLUMNS] == ["CoLA", "SST-2", "MRPC", "STS-B", "QQP", "MNLI-m", "MNLI-mm", "QNLI",
                                                "RTE"]


# One row of each task in the layout of the GLUE benchmark's files (stray quotes included).
REAL_ROWS = {
    "cola": (None, ["gj04", "1", "", "Our friends won't buy this analysis, let alone the next one we propose."],
             ("Our friends won't buy this analysis, let alone the next one we propose.", None, 1)),
    "sst2": (["sentence", "label"], ["hide new secretions from the parental units ", "0"],
             ("hide new secretions from the parental units ", None, 0)),
    "mrpc": (["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
             ["1", "702876", "702977", 'Amrozi called " the witness " a liar .', 'He called him " the witness " .'],
             ('Amrozi called " the witness " a liar .', 'He called him " the witness " .', 1)),
    "stsb": (["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2",
              "score"],
             ["0", "main-captions", "MSRvid", "2012test", "0001", "none", "none", "A plane is taking off.",
              "An air plane is taking off.", "5.000"],
             ("A plane is taking off.", "An air plane is taking off.", 5.0)),
    "qqp": (["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
            ["133273", "213221", "213222", "How is the life of a math student?", "Which level is enough?", "0"],
            ("How is the life of a math student?", "Which level is enough?", 0)),
    "mnli": (["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
              "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "label1", "gold_label"],
             ["0", "31193", "31193n", "government", "( ( x ) )", "( y )", "(ROOT x)", "(ROOT y)",
              "Conceptually cream skimming has two basic dimensions.", "Product and geography are what make it work. ",
              "neutral", "neutral"],
             ("Conceptually cream skimming has two basic dimensions.", "Product and geography are what make it work. ",
              2)),
    "qnli": (["index", "question", "sentence", "label"],
             ["0", "When did the third Digimon series begin?", "Digimon Tamers takes a darker approach.",
              "not_entailment"],
             ("When did the third Digimon series begin?", "Digimon Tamers takes a darker approach.", 1)),
    "rte": (["index", "sentence1", "sentence2", "label"],
            ["0", "Dana Reeve, the widow of the actor Christopher Reeve, has died.",
             "Christopher Reeve had an accident.",
             "not_entailment"],
            ("Dana Reeve, the widow of the actor Christopher Reeve, has died.", "Christopher Reeve had an accident.",
             1)),
}


@pytest.mark.parametrize("key", list(REAL_ROWS))
def test_reader_reads_the_real_layout_of_every_task(key, tmp_path):
    header, row, (text_a, text_b, label) = REAL_ROWS[key]
    write_tsv(tmp_path / "train.tsv", header, [row, row])
    examples, skipped = read_split(TASKS[key], tmp_path / "train.tsv")
    assert skipped == 0 and len(examples) == 2
    assert (examples[0].text_a, examples[0].text_b, examples[0].label) == (text_a, text_b, label)


def test_mrpc_byte_order_mark_and_mnli_dev_layout_are_read(glue_dir):
    assert (glue_dir / "MRPC" / "train.tsv").read_bytes().startswith(b"\xef\xbb\xbf")
    # MNLI dev files have 16 columns, train 12: columns are found by header name.
    assert len((glue_dir / "MNLI" / "dev_matched.tsv").read_text().splitlines()[0].split("\t")) == 16
    for task in TASKS.values():
        data = read_task(task, glue_dir)
        assert len(data.train) == 96 and data.skipped_rows == 0
        assert {label: len(examples) for label, examples in data.evals.items()} == {c.label: 40 for c in task.columns}


def test_short_rows_are_skipped_in_qqp_only(tmp_path):
    header = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
    write_tsv(tmp_path / "train.tsv", header, [["1", "2", "3", "a?", "b?", "1"], ["4", "5", "6", "cut short"]])
    examples, skipped = read_split(TASKS["qqp"], tmp_path / "train.tsv")
    assert (len(examples), skipped) == (1, 1)
    write_tsv(tmp_path / "rte.tsv", ["index", "sentence1", "sentence2", "label"],
              [["0", "a", "b", "entailment"], ["1", "a", "entailment"]])
    with pytest.raises(UserError, match=r"rte.tsv' line 3 has 3 tab-separated columns, expected 4"):
        read_split(TASKS["rte"], tmp_path / "rte.tsv")


def test_bad_labels_and_headers_name_file_and_line(tmp_path):
    write_tsv(tmp_path / "train.tsv", ["sentence", "label"], [["fine", "1"], ["odd", "positive"]])
    with pytest.raises(UserError, match=r"line 3: label 'positive' is not one of 0, 1"):
        read_split(TASKS["sst2"], tmp_path / "train.tsv")
    write_tsv(tmp_path / "stsb.tsv", REAL_ROWS["stsb"][0], [REAL_ROWS["stsb"][1][:-1] + ["high"]])
    with pytest.raises(UserError, match=r"line 2: score 'high' is not a number"):
        read_split(TASKS["stsb"], tmp_path / "stsb.tsv")
    write_tsv(tmp_path / "rte.tsv", ["sentence", "label"], [["a", "1"]])
    with pytest.raises(UserError, match=r"no column 'sentence1'.*RTE/rte.tsv"):
        read_split(TASKS["rte"], tmp_path / "rte.tsv")


def test_total_steps_with_epochs_and_cap():
    args = SimpleNamespace(per_device_train_batch_size=32, num_train_epochs=3.0, max_steps=-1)
    assert total_steps(100, args) == 12  # 4 batches per epoch
    assert total_steps(100, SimpleNamespace(**{**vars(args), "num_train_epochs": 0.5})) == 2
    assert total_steps(100, SimpleNamespace(**{**vars(args), "max_steps": 5})) == 5


# ---------------------------------------------------------------- the table

def test_two_rows_keep_one_header_and_average_the_shown_numbers(tmp_path):
    table = tmp_path / "glue_table.md"
    check_table(table)  # a new table is fine
    first = add_results(table, "Scratch", "GLUE", {"SST-2": 80, "CoLA": 25, "MNLI-m": 60, "MNLI-mm": 62.5})
    add_results(table, "LiGO", "GLUE", {label: 50 for label in [c.label for c in TABLE_COLUMNS]})
    check_table(table)  # and so is one this project wrote
    # Shown: 80.0, 25.0, 60.0, 62.5 -> GLUE Avg (80 + 25 + 60 + 62.5) / 4 = 56.875 -> 56.9; absent tasks and
    # SQuAD show '-'.
    assert first == ["Scratch", "25.0", "80.0", "-", "-", "-", "60.0", "62.5", "-", "-", "-", "-", "56.9", "-"]
    lines = table.read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("| Model | CoLA (MCC) | SST-2 (Acc) | MRPC (F1) | STS-B (Spearman)")
    assert lines[0].endswith("| RTE (Acc) | SQuAD v1.1 (F1/EM) | SQuAD v2.0 (F1/EM) | GLUE Avg | SQuAD Avg (F1/EM) |")
    assert lines[1].startswith("| --- | ---: |")
    assert lines[2] == "| Scratch | 25.0 | 80.0 | - | - | - | 60.0 | 62.5 | - | - | - | - | 56.9 | - |"
    assert lines[3] == "| LiGO | " + " | ".join(["50.0"] * 9) + " | - | - | 50.0 | - |"
    rows = read_csv(csv_path(table))
    assert [row["Model"] for row in rows] == ["Scratch", "LiGO"] and rows[0]["GLUE Avg"] == "56.9"
    assert rows[0]["MRPC"] == "-" and rows[1]["MNLI-mm"] == "50.0" and rows[1]["SQuAD v2.0 EM"] == "-"
    assert not list(tmp_path.glob(".*partial"))


def test_squad_fills_the_models_row_and_a_second_glue_run_gets_its_own(tmp_path):
    table = tmp_path / "table.md"
    add_results(table, "LiGO", "GLUE", {"SST-2": 90, "RTE": 70})
    row = add_results(table, "LiGO", "SQuAD", {"SQuAD v1.1 F1": 86.55, "SQuAD v1.1 EM": 77.31,
                                                "SQuAD v2.0 F1": 71.31, "SQuAD v2.0 EM": 67.07})
    # SQuAD Avg: (86.5 + 71.3) / 2 = 78.9 (of the numbers shown: 86.55 shows as 86.5, round half to even)
    assert row == ["LiGO", "-", "90.0", "-", "-", "-", "-", "-", "-", "70.0", "86.5/77.3", "71.3/67.1", "80.0",
                   "78.9/72.2"]
    add_results(table, "LiGO", "GLUE", {"SST-2": 91})  # the row's GLUE cells are taken: a new row
    rows = read_csv(csv_path(table))
    assert [(r["Model"], r["SST-2"], r["SQuAD v1.1 F1"]) for r in rows] == [("LiGO", "90.0", "86.5"),
                                                                         ("LiGO", "91.0", "-")]
    only_v1 = add_results(table, "KI", "SQuAD", {"SQuAD v1.1 F1": 80, "SQuAD v1.1 EM": 70})
    assert only_v1[-4:] == ["80.0/70.0", "-", "-", "-"]  # no average of one version


def test_a_table_written_before_squad_gets_the_new_columns(tmp_path):
    table = tmp_path / "glue_table.md"
    labels = [c.label for c in TABLE_COLUMNS]
    table.write_text("an older table\n")
    csv_path(table).write_text(",".join(["Model", *labels, "Avg"]) + "\n"
                               + ",".join(["Scratch", *["80.0"] * 10, "80.0"]) + "\n")
    check_table(table)
    add_results(table, "Scratch", "SQuAD", {"SQuAD v1.1 F1": 80, "SQuAD v1.1 EM": 70, "SQuAD v2.0 F1": 60,
                                            "SQuAD v2.0 EM": 50})
    (row,) = read_csv(csv_path(table))
    assert row["SST-2"] == "80.0" and row["GLUE Avg"] == "80.0" and row["SQuAD Avg F1"] == "70.0"


def test_a_foreign_table_is_refused_before_anything_runs(tmp_path):
    table = tmp_path / "other.md"
    table.write_text("| Model | SST-2 |\n")
    with pytest.raises(UserError, match="other.md' has no 'other.csv' beside it"):
        check_table(table)
    csv_path(table).write_text("Model,SST-2\n")
    with pytest.raises(UserError, match="other.csv' is not a results table"):
        check_table(table)
    with pytest.raises(UserError, match="must end in .md"):
        check_table(tmp_path / "table.csv")


# ---------------------------------------------------------------- whole runs

def test_bert_run_on_every_task_and_two_seeds(glue_dir, bert_model, tmp_path, warm_python):
    # Given as a training run's output_dir: its latest checkpoint is fine-tuned.
    run_dir = tmp_path / "pretrain-run"
    shutil.copytree(bert_model, run_dir / "checkpoints" / "checkpoint-00000010")
    (run_dir / "checkpoints" / "checkpoint-00000010" / "trainer_state.json").write_text("{}")
    out = tmp_path / "glue-out"
    result = run_script(warm_python, "--model_name_or_path", run_dir, "--glue_dir", glue_dir, "--output_dir", out,
                        "--seeds", 1, 2, "--name", "tiny-bert", *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "LOAD REPORT" not in result.stderr

    for key in TASKS:
        for seed in (1, 2):
            record = json.loads((out / "seeds" / f"{key}-seed{seed}.json").read_text())
            assert record["seed"] == seed and record["steps"] == 60  # ceil(96 / 16) * 10
            assert record["model"].endswith("checkpoint-00000010")
    summary = json.loads((out / "glue_results.json").read_text())
    assert list(summary["columns"]) == [c.label for c in TABLE_COLUMNS]
    sst2 = summary["columns"]["SST-2"]["metrics"]["acc"]
    assert len(sst2["per_seed"]) == 2 and min(sst2["per_seed"]) >= 0.8, sst2  # chance is 0.5
    assert sst2["mean"] == pytest.approx(statistics.fmean(sst2["per_seed"]))
    assert set(summary["columns"]["STS-B"]["metrics"]) == {"pearson", "spearman"}
    assert set(summary["columns"]["MRPC"]["metrics"]) == {"f1", "acc"}

    (row,) = read_csv(out / "glue_table.csv")
    assert list(row) == csv_header() and row["Model"] == "tiny-bert"
    shown = [float(row[c.label]) for c in TABLE_COLUMNS]
    assert float(row["GLUE Avg"]) == pytest.approx(statistics.fmean(shown), abs=0.05)
    assert float(row["SST-2"]) == pytest.approx(100 * sst2["mean"], abs=0.05)
    assert "| tiny-bert |" in (out / "glue_table.md").read_text()

    # The same output_dir again: refused, the earlier results are kept.
    again = run_script(warm_python, "--model_name_or_path", run_dir, "--glue_dir", glue_dir, "--output_dir", out,
                       *FAST)
    assert again.returncode == 2 and "already holds GLUE results" in again.stderr
    assert len(read_csv(out / "glue_table.csv")) == 1


def test_roberta_run_from_a_config_file(glue_dir, roberta_model, tmp_path, warm_python):
    config = tmp_path / "glue.txt"
    config.write_text(f"model_name_or_path = {roberta_model}\nglue_dir = {glue_dir}\ntasks = [SST-2]\nseeds = [3]\n"
                      "num_train_epochs = 10\nlearning_rate = 1e-3\nper_device_train_batch_size = 16\n"
                      "max_seq_length = 32\n")
    table = tmp_path / "tables" / "glue.md"
    result = run_script(warm_python, "--config", config, "--output_dir", tmp_path / "out", "--results_table", table)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((tmp_path / "out" / "seeds" / "sst2-seed3.json").read_text())
    assert record["eval"]["SST-2"]["acc"] >= 0.8
    assert record["new_weights"] == ["classifier.dense.bias", "classifier.dense.weight", "classifier.out_proj.bias",
                                     "classifier.out_proj.weight"]
    (row,) = read_csv(csv_path(table))
    assert row["Model"] == "model" and row["GLUE Avg"] == row["SST-2"] and row["CoLA"] == "-"


# ---------------------------------------------------------------- refused inputs

def _drop_dev(glue):
    (glue / "SST-2" / "dev.tsv").unlink()
    return [], "SST-2/dev.tsv"


def _malformed_row(glue):
    with (glue / "SST-2" / "train.tsv").open("a") as f:
        f.write("a sentence\t1\textra\n")
    return [], "train.tsv' line 98"


def _bad_label(glue):
    with (glue / "SST-2" / "dev.tsv").open("a") as f:
        f.write("a sentence\t2\n")
    return [], "label '2'"


def _foreign_table(glue):
    table = glue.parent / "mine.md"
    table.write_text("# my notes\n")
    return ["--results_table", table], "mine.md"


BAD_INPUTS = {
    "missing glue dir": (lambda glue: (["--glue_dir", glue.parent / "no-glue-here"], "no-glue-here")),
    "task folder lacks dev.tsv": _drop_dev,
    "malformed row": _malformed_row,
    "unknown label": _bad_label,
    "unknown task": (lambda glue: (["--tasks", "sst2", "sst3"], "'sst3'")),
    "model path missing": (lambda glue: (["--model_name_or_path", glue.parent / "no-model"], "no-model")),
    "zero epochs": (lambda glue: (["--num_train_epochs", "0"], "--num_train_epochs must be positive, got 0")),
    "negative batch": (lambda glue: (["--per_device_train_batch_size", "-4"], "got -4")),
    "zero max_steps": (lambda glue: (["--max_steps", "0"], "--max_steps must be at least 1")),
    "not a number": (lambda glue: (["--learning_rate", "fast"], "'fast'")),
    "too long for the model": (lambda glue: (["--max_seq_length", "1000"], "--max_seq_length 1000 exceeds")),
    "repeated seed": (lambda glue: (["--seeds", "1", "1"], "--seeds 1 1")),
    "foreign table": _foreign_table,
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_writes_nothing(case, glue_dir, bert_model, tmp_path, capsys):
    glue = tmp_path / "glue"
    shutil.copytree(glue_dir, glue)
    extra, expected = BAD_INPUTS[case](glue)
    out = tmp_path / "out"
    argv = ["--model_name_or_path", bert_model, "--glue_dir", glue, "--output_dir", out, "--tasks", "sst2", *FAST,
            *extra]
    with pytest.raises(SystemExit) as exit_info:
        run_in_process(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert len(err.strip().splitlines()) == 1 and expected in err, err
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="--bf16 is allowed on a GPU")
def test_half_precision_on_cpu_is_refused(glue_dir, bert_model, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_in_process(["--model_name_or_path", bert_model, "--glue_dir", glue_dir, "--output_dir", tmp_path / "out",
                        "--bf16"])
    assert capsys.readouterr().err.strip() == ("error: --bf16 needs a CUDA GPU and none is visible; leave --bf16 out "
                                               "to train in float32")


def test_broken_or_incomplete_checkpoints_are_refused(bert_model, glue_dir, tmp_path, capsys):
    deeper = tmp_path / "deeper"
    shutil.copytree(bert_model, deeper)
    config = json.loads((deeper / "config.json").read_text())
    (deeper / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    # 16 tensors per layer; a layer the checkpoint lacks is refused, not trained from random.
    with pytest.raises(UserError, match=r"lacks 16 encoder weights \(e.g. bert.encoder.layer.2."):
        load_classifier(str(deeper), TASKS["sst2"])
    broken = tmp_path / "broken"
    shutil.copytree(bert_model, broken)
    (broken / "model.safetensors").write_text("not tensors")
    with pytest.raises(SystemExit):
        run_in_process(["--model_name_or_path", broken, "--glue_dir", glue_dir, "--output_dir", tmp_path / "out",
                        *FAST])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not be loaded as a sequence classifier" in err[0]
    assert not (tmp_path / "out").exists()


def test_only_families_that_declare_the_head_are_fine_tuned():
    """The check both scripts run on the model's config, before anything is written (their
    refusals through the scripts: test_bad_inputs.py)."""
    for head in (SEQUENCE_CLASSIFICATION, QUESTION_ANSWERING):
        for config in (BertConfig(), RobertaConfig()):
            check_finetune_head(config, "runs/encoder", head, "run_x.py")
    with pytest.raises(UserError) as refused:
        check_finetune_head(GPT2Config(), "runs/gpt2-small", QUESTION_ANSWERING, "run_squad.py")
    assert str(refused.value) == ("--model_name_or_path 'runs/gpt2-small' is a gpt2 model; run_squad.py fine-tunes "
                                  "families with a question-answering head (bert, roberta): pass a bert or roberta "
                                  "checkpoint")
    with pytest.raises(UserError, match=r"^--model_name_or_path 'runs/vit' is a vit model; run_glue.py fine-tunes "
                                        r"families with a sequence-classification head \(bert, roberta\)"):
        check_finetune_head(ViTConfig(), "runs/vit", SEQUENCE_CLASSIFICATION, "run_glue.py")
    # A hub model of a type no family registers: refused too, not fine-tuned half-supported.
    with pytest.raises(UserError, match=r"^--model_name_or_path 't5-small' is a t5 model, not a family of this "
                                        r"project; run_glue.py fine-tunes"):
        check_finetune_head(T5Config(), "t5-small", SEQUENCE_CLASSIFICATION, "run_glue.py")


def test_the_script_itself_refuses_with_one_line(glue_dir, bert_model, tmp_path, warm_python):
    glue = tmp_path / "glue"
    shutil.copytree(glue_dir, glue)
    (glue / "RTE" / "train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\tonly two\n")
    result = run_script(warm_python, "--model_name_or_path", bert_model, "--glue_dir", glue, "--output_dir",
                        tmp_path / "out", *FAST)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: '{glue / 'RTE' / 'train.tsv'}' line 2 has 2 tab-separated columns, expected 4 "
        "(index, sentence1, sentence2, label); fix or remove that line"]
    assert not (tmp_path / "out").exists()


def test_a_second_run_into_a_folder_in_use_is_refused_naming_the_holder(glue_dir, bert_model, tmp_path, warm_python):
    """This test's process holds the folder's lock, as a first run_glue.py would; a second one,
    its own process, is refused in one line and writes nothing there."""
    out = tmp_path / "out"
    out.mkdir()
    refused_while_held(out, "run_glue.py", lambda: run_script(
        warm_python, "--model_name_or_path", bert_model, "--glue_dir", glue_dir, "--output_dir", out, "--tasks", "sst2",
        *FAST))
    assert sorted(p.name for p in out.iterdir()) == []
