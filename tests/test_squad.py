"""SQuAD fine-tuning (run_squad.py): the official metrics against hand-computed values, windows
and their labels with real tokenizers, post-processing on crafted scores, and whole runs on
fixtures built from the embedded Wikipedia sample (tests/squad_fixtures.py) that a tiny model
learns well above chance. Bad inputs are cases of tests/test_bad_inputs.py."""

import csv
import json
import os
import random
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from squad_fixtures import write_squad
from training_helpers import refused_while_held
from transformers import AutoTokenizer, BertConfig, BertForMaskedLM, RobertaConfig, RobertaForMaskedLM

from ligo.finetune.squad.data import Example, read_split
from ligo.finetune.squad.features import eval_features, train_features
from ligo.finetune.squad.metrics import exact_match, f1_score, normalize_answer, squad_v1, squad_v2
from ligo.finetune.squad.postprocess import predict_answers

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
# The fixture's settings: a random tiny model needs a larger learning rate than the paper's 5e-5.
FAST = ["--max_seq_length", "128", "--doc_stride", "32", "--learning_rate", "2e-3", "--num_train_epochs", "3",
        "--per_device_train_batch_size", "16"]


# ---------------------------------------------------------------- the official metrics

def test_answers_are_normalised_as_the_official_scripts_do():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"  # punctuation goes without a space
    assert normalize_answer("an apple and a pear") == "apple and pear"
    assert normalize_answer("Theater of the Absurd") == "theater of absurd"  # only whole-word articles
    assert normalize_answer("  Café\tMüller ") == "café müller"  # unicode letters stay, lower-cased
    assert normalize_answer("«Paris»") == "«paris»"  # only ASCII punctuation is removed, as officially
    assert normalize_answer("A") == "" and normalize_answer("...") == ""


def test_exact_match_and_f1_of_crafted_answers():
    assert exact_match("the Denver Broncos.", "Denver Broncos") == 1
    # pred {big, red, dog} against gold {red, dog}: precision 2/3, recall 1 -> F1 0.8
    assert f1_score("the big red dog", "a red dog", "1.1") == pytest.approx(0.8)
    assert f1_score("red red dog", "red dog dog", "1.1") == pytest.approx(2 / 3)  # counts, not sets
    # an answer that normalises to nothing: v1.1 gives 0, v2.0 gives 1 when both are empty
    assert f1_score("the", "", "1.1") == 0 and f1_score("the", "", "2.0") == 1
    assert f1_score("", "Paris", "2.0") == 0 and exact_match("", "") == 1


def _dataset(questions):
    return [{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": qid, "answers": [{"text": g} for g in golds]}
                                                                   for qid, golds in questions]}]}]


def test_v1_scores_take_the_best_gold_answer_and_count_missing_predictions_as_zero():
    dataset = _dataset([("q1", ["Denver Broncos", "The Denver Broncos"]), ("q2", ["1967"]), ("q3", ["x"])])
    scores = squad_v1(dataset, {"q1": "denver broncos!", "q2": "in 1967"})
    # q1: EM 1, F1 1; q2: EM 0, F1 2/3 (precision 1/2, recall 1); q3: no prediction, 0
    assert scores == pytest.approx({"exact_match": 100 / 3, "f1": 100 * (1 + 2 / 3) / 3})


def test_v2_scores_has_and_no_answer_and_the_best_threshold():
    dataset = _dataset([("q1", ["1967"]), ("q2", ["Paris"]), ("q3", []), ("q4", [])])
    predictions = {"q1": "1967", "q2": "", "q3": "", "q4": "London"}
    null_odds = {"q1": -2.0, "q2": 3.0, "q3": 1.0, "q4": -1.0}
    scores = squad_v2(dataset, predictions, null_odds)
    assert scores["exact"] == scores["f1"] == 50.0 and scores["total"] == 4
    assert scores["HasAns_exact"] == 50.0 and scores["NoAns_exact"] == 50.0 and scores["NoAns_total"] == 2
    # Answering nothing scores 2 of 4; answering in rising null odds: q1 +1 (3), q4 -1 (answered
    # London, was right as no answer), q3 0, q2 0: the best is 3 of 4, at threshold -2.
    assert scores["best_exact"] == scores["best_f1"] == 75.0
    assert scores["best_exact_thresh"] == scores["best_f1_thresh"] == -2.0


# ---------------------------------------------------------------- windows and answers

def test_windows_label_the_answer_where_it_is_whole_and_cls_elsewhere(bert_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(str(bert_tokenizer_dir))
    context = " ".join(["the river flows north through the valley ."] * 8) + " the bridge was built in 1967 ."
    example = Example("q", "when was the bridge built ?", context, ("1967",), context.index("1967"))
    features = train_features([example], tokenizer, max_seq_length=32, doc_stride=8)
    assert len(features) > 3  # the context needs several windows
    labelled = [f for f in features if f["start_positions"] != 0]
    assert labelled and any(f["start_positions"] == 0 for f in features)
    for feature in labelled:
        span = feature["input_ids"][feature["start_positions"]:feature["end_positions"] + 1]
        assert tokenizer.decode(span).replace(" ", "") == "1967"
    inputs, windows = eval_features([example], tokenizer, max_seq_length=32, doc_stride=8)
    assert len(inputs) == len(features) and {w["example_id"] for w in windows} == {"q"}
    offsets = windows[-1]["offsets"]
    assert offsets[0] is None and offsets[1] is None  # [CLS] and the question are not context
    assert any(o is not None and o[0] == context.index("1967") for o in offsets)
    assert max(o[1] for o in offsets if o is not None) == len(context)  # the last window reaches the end


def test_answers_from_crafted_scores_with_the_null_answer_and_its_threshold():
    context = "Albania became atheist in 1967 ."
    example = Example("q", "when ?", context, ("1967",), 26)
    offsets = [None, None, (0, 7), (8, 14), (15, 22), (23, 25), (26, 30), (31, 32), None]
    windows = [{"example_id": "q", "offsets": offsets}]
    start = np.array([5.0, 9, 6, 0, 0, 0, 2, 0, 0])  # 1: the question, never an answer
    end = np.array([5.0, 9, -5, -5, -5, -5, 3, 0, 9])  # 8: padding, never an answer
    # The best span inside the context of at most 3 tokens: "1967" (2 + 3); "Albania ... 1967"
    # (6 + 3) is 5 tokens long.
    answers, null = predict_answers([example], windows, [start], [end], n_best=20, max_answer_length=3,
                                    with_null=False, null_threshold=0.0)
    assert answers == {"q": "1967"} and null == {}
    assert predict_answers([example], windows, [start], [end], n_best=20, max_answer_length=5, with_null=False,
                           null_threshold=0.0)[0] == {"q": "Albania became atheist in 1967"}
    # v2.0: the null answer scores 5 + 5 = 10, the best span 5: no answer unless the threshold is above 5
    answers, null = predict_answers([example], windows, [start], [end], n_best=20, max_answer_length=3,
                                    with_null=True, null_threshold=0.0)
    assert answers == {"q": ""} and null == {"q": 5.0}
    assert predict_answers([example], windows, [start], [end], n_best=20, max_answer_length=3, with_null=True,
                           null_threshold=6.0)[0] == {"q": "1967"}


# ---------------------------------------------------------------- whole runs

@pytest.fixture(scope="module")
def squad_dir(tmp_path_factory, bert_text) -> Path:
    return write_squad(tmp_path_factory.mktemp("squad") / "squad", bert_text / "en.train.raw")


def _tiny_model(folder: Path, tokenizer_dir: Path, family: str) -> Path:
    """A random tiny masked-LM model saved with its tokenizer, as our checkpoints are."""
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    sizes = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                 vocab_size=len(tokenizer))
    torch.manual_seed(0)
    if family == "roberta":
        model = RobertaForMaskedLM(RobertaConfig(**sizes, max_position_embeddings=130, pad_token_id=1, bos_token_id=0,
                                                 eos_token_id=2))
    else:
        model = BertForMaskedLM(BertConfig(**sizes, max_position_embeddings=128))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(str(folder))
    return folder


def run_script(python, *args):
    return subprocess.run([python, "run_squad.py", *map(str, args)], cwd=REPO, env=ENV, capture_output=True,
                          text=True)


def _chance(squad_dir: Path) -> tuple[float, float]:
    """v1.1 F1 of a random span of 1-3 words of each context; v2.0 F1 of never answering."""
    rng = random.Random(0)
    dev1 = read_split(squad_dir, "1.1", "dev")
    spans = {}
    for example in dev1.examples:
        words = example.context.split()
        start = rng.randrange(len(words))
        spans[example.id] = " ".join(words[start:start + rng.randint(1, 3)])
    dev2 = read_split(squad_dir, "2.0", "dev")
    return squad_v1(dev1.dataset, spans)["f1"], squad_v2(dev2.dataset, {e.id: "" for e in dev2.examples})["f1"]


def test_bert_learns_both_versions_well_above_chance(squad_dir, bert_tokenizer_dir, tmp_path, warm_python):
    model = _tiny_model(tmp_path / "bert", bert_tokenizer_dir, "bert")
    out = tmp_path / "squad-out"
    table = tmp_path / "results" / "table1.md"
    result = run_script(warm_python, "--model_name_or_path", model, "--squad_dir", squad_dir, "--output_dir", out,
                        "--seeds", 1, 2, "--name", "tiny-bert", "--results_table", table, *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "LOAD REPORT" not in result.stderr
    random_span_f1, never_answer_f1 = _chance(squad_dir)
    summary = json.loads((out / "squad_results.json").read_text())
    v1, v2 = summary["versions"]["1.1"]["metrics"], summary["versions"]["2.0"]["metrics"]
    print(f"chance: v1.1 F1 {random_span_f1:.1f} (a random span), v2.0 F1 {never_answer_f1:.1f} (never answering); "
          f"learned: v1.1 F1 {v1['f1']['per_seed']}, EM {v1['exact_match']['per_seed']}; "
          f"v2.0 F1 {v2['f1']['per_seed']},"
          f" EM {v2['exact']['per_seed']}, HasAns F1 {v2['HasAns_f1']['per_seed']}; seconds an epoch "
          f"{summary['versions']['1.1']['seconds_per_epoch']['per_seed']}")
    assert random_span_f1 < 15 and never_answer_f1 == 50.0
    assert min(v1["f1"]["per_seed"]) > random_span_f1 + 40, v1
    assert min(v2["f1"]["per_seed"]) > never_answer_f1 + 15 and min(v2["HasAns_f1"]["per_seed"]) > 30, v2
    for version in ("1.1", "2.0"):
        for seed in (1, 2):
            record = json.loads((out / "seeds" / f"v{version}-seed{seed}.json").read_text())
            predictions = json.loads((out / "seeds" / f"v{version}-seed{seed}.predictions.json").read_text())
            assert record["seed"] == seed and record["new_weights"] == ["qa_outputs.bias", "qa_outputs.weight"]
            assert len(predictions) == record["dev_questions"] == 80
    assert set(json.loads((out / "seeds" / "v2.0-seed1.null_odds.json").read_text())) == set(predictions)
    with (table.with_suffix(".csv")).open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["Model"] == "tiny-bert" and row["SST-2"] == "-" and row["GLUE Avg"] == "-"
    assert float(row["SQuAD v1.1 F1"]) == pytest.approx(v1["f1"]["mean"], abs=0.05)
    assert float(row["SQuAD v2.0 EM"]) == pytest.approx(v2["exact"]["mean"], abs=0.05)
    assert float(row["SQuAD Avg F1"]) == pytest.approx((float(row["SQuAD v1.1 F1"]) + float(row["SQuAD v2.0 F1"])) / 2,
                                                       abs=0.051)
    # The same output_dir again: refused, the earlier results kept.
    again = run_script(warm_python, "--model_name_or_path", model, "--squad_dir", squad_dir, "--output_dir", out,
                       *FAST)
    assert again.returncode == 2 and "already holds SQuAD results" in again.stderr


def test_roberta_fine_tunes_from_a_training_runs_folder(squad_dir, roberta_tokenizer_dir, tmp_path, warm_python):
    run_dir = tmp_path / "pretrain-run"
    _tiny_model(run_dir / "checkpoints" / "checkpoint-00000010", roberta_tokenizer_dir, "roberta")
    (run_dir / "checkpoints" / "checkpoint-00000010" / "trainer_state.json").write_text("{}")
    out = tmp_path / "out"
    result = run_script(warm_python, "--model_name_or_path", run_dir, "--squad_dir", squad_dir, "--output_dir", out,
                        "--versions", "2.0", "--seeds", 3, "--max_steps", 4, *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((out / "seeds" / "v2.0-seed3.json").read_text())
    assert record["steps"] == 4 and record["model"].endswith("checkpoint-00000010")
    assert not (out / "seeds" / "v1.1-seed3.json").exists()
    assert "| pretrain-run |" in (out / "squad_table.md").read_text()


def test_a_second_run_into_a_folder_in_use_is_refused_naming_the_holder(squad_dir, bert_tokenizer_dir, tmp_path,
                                                                        warm_python):
    """This test's process holds the folder's lock, as a first run_squad.py would; a second one,
    its own process, is refused in one line and writes nothing there."""
    model = _tiny_model(tmp_path / "bert", bert_tokenizer_dir, "bert")
    out = tmp_path / "out"
    out.mkdir()
    refused_while_held(out, "run_squad.py", lambda: run_script(
        warm_python, "--model_name_or_path", model, "--squad_dir", squad_dir, "--output_dir", out, "--seeds", 1, *FAST))
    assert sorted(p.name for p in out.iterdir()) == []
