"""Loading a checkpoint, an operator or a model never runs code. Each test plants a pickle that
would create a marker file when unpickled (where a real attack would run anything) in a place
a command loads, runs the command as a user would, and checks that the marker never appears
and the command stops with one clear line. Tensors come from safetensors; optimiser and
scheduler states from torch.load(weights_only=True), which refuses the pickle."""

import pathlib
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from conftest import run
from tiny_world import ENV, build_world, save_operator_run
from training_helpers import grow_command, lm_command

from ligo.base.checksums import write_checksums

PY = sys.executable


class Trap:
    """Unpickling it touches ``marker``: what a malicious pickle could do instead of anything else."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def plant(path: Path, marker: Path) -> Path:
    """Replace (or create) ``path`` with a pickle that would touch ``marker``, saved as torch saves."""
    path.unlink(missing_ok=True)
    torch.save({"state": Trap(marker)}, path)
    return path


# -- the scenarios: (command, planted file) prepared in a folder of their own ----------------------

def resume_with_planted_state(world, run_dir, folder, marker, stem):
    out = Path(shutil.copytree(run_dir, folder / "run"))
    planted = plant(out / "checkpoints" / "checkpoint-00000002" / f"{stem}.pt", marker)
    write_checksums(planted.parent)  # as an attacker would: checksums find damage, weights_only refuses code
    return lm_command(world.run_config, world.small_config, out, "--should_continue", "--max_steps", 4), planted


def pickled_model(world, run_dir, folder, marker, keep_safetensors=False) -> Path:
    """The run's last model with its weights as pytorch_model.bin (a pickle), beside or instead of safetensors."""
    model = Path(shutil.copytree(run_dir / "checkpoints" / "checkpoint-00000002", folder / "model"))
    if not keep_safetensors:
        (model / "model.safetensors").unlink()
    plant(model / "pytorch_model.bin", marker)
    return model


SCENARIOS = {
    "optimizer state": lambda w, r, f, m: resume_with_planted_state(w, r, f, m, "optimizer"),
    "scheduler state": lambda w, r, f, m: resume_with_planted_state(w, r, f, m, "scheduler"),
    "model weights of the checkpoint resumed": lambda w, r, f, m: _resume_with_pickled_weights(w, r, f, m),
    "source model": lambda w, r, f, m: _grow_operator_from(w, pickled_model(w, r, f, m), f),
    "GLUE model": lambda w, r, f, m: _glue_on(pickled_model(w, r, f, m), f),
    "LiGO operator": lambda w, r, f, m: _grow_with_pickled_operator(w, f, m),
}


def _resume_with_pickled_weights(world, run_dir, folder, marker):
    out = Path(shutil.copytree(run_dir, folder / "run"))
    last = out / "checkpoints" / "checkpoint-00000002"
    (last / "model.safetensors").unlink()
    planted = plant(last / "pytorch_model.bin", marker)
    write_checksums(last)  # as an attacker would: checksums find damage, loading refuses pickles
    return lm_command(world.run_config, world.small_config, out, "--should_continue", "--max_steps", 4), planted


def _grow_operator_from(world, model, folder):
    return grow_command(world.run_config, world.large_config, folder / "ligo", "--tune_depth", "--tune_width",
                        "--source_model_path", model), model / "pytorch_model.bin"


def _glue_on(model, folder):
    (folder / "glue").mkdir()
    return [PY, "run_glue.py", "--model_name_or_path", model, "--glue_dir", folder / "glue", "--output_dir",
            folder / "glue-results", "--tasks", "rte", "--max_seq_length", "32"], model / "pytorch_model.bin"


def _grow_with_pickled_operator(world, folder, marker):
    checkpoint = save_operator_run(world, folder / "ligo")
    planted = plant(checkpoint / "ligo_operator.safetensors", marker)  # a pickle under the safetensors name
    return [PY, "-m", "ligo.grow", "--model_type", "bert", "--config_name", world.large_config, "--grow_scheme", "ligo",
            "--pretrained_ligo_path", folder / "ligo", "--output_dir", folder / "grown"], planted


@pytest.fixture(scope="module")
def world_and_run(tmp_path_factory, warm_python):
    """The world and a finished 2-step pretraining run (checkpoints 0 and 2)."""
    world = build_world(tmp_path_factory.mktemp("world"))
    run_dir = tmp_path_factory.mktemp("runs") / "small"
    run(lm_command(world.run_config, world.small_config, run_dir, python=warm_python), env=ENV)
    return world, run_dir


@pytest.fixture(scope="module")
def outcomes(world_and_run, tmp_path_factory, warm_python) -> dict:
    """Every scenario run, a few at a time, on the warm interpreter: name -> (result, planted file, marker)."""
    world, run_dir = world_and_run
    prepared = {}
    for name, build in SCENARIOS.items():
        folder = tmp_path_factory.mktemp("planted")
        marker = folder / "CODE-RAN"
        command, planted = build(world, run_dir, folder, marker)
        prepared[name] = ([warm_python if a == PY else str(a) for a in command], planted, marker)
    with ThreadPoolExecutor(3) as pool:
        results = pool.map(lambda item: run(item[0], env=ENV, check=False), prepared.values())
        return {name: (result, planted, marker) for (name, (_, planted, marker)), result
                in zip(prepared.items(), results)}


def test_the_planted_pickle_would_run_code(tmp_path):
    marker = tmp_path / "CODE-RAN"
    planted = plant(tmp_path / "optimizer.pt", marker)
    torch.load(planted, weights_only=False)  # what an unsafe loader would do
    assert marker.exists()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_planted_pickle_never_runs(name, outcomes):
    result, planted, marker = outcomes[name]
    assert result.returncode != 0, result.stdout + result.stderr
    assert not marker.exists(), f"loading {planted} ran code"


def _one_line_refusal(result, planted: Path):
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert last.startswith("error: ") and (str(planted) in last or str(planted.parent) in last), last


@pytest.mark.parametrize("name", SCENARIOS)
def test_planted_pickle_is_refused_in_one_line(name, outcomes):
    result, planted, _ = outcomes[name]
    _one_line_refusal(result, planted)


def test_pickle_beside_safetensors_is_never_loaded(world_and_run, tmp_path, warm_python):
    world, run_dir = world_and_run
    marker = tmp_path / "CODE-RAN"
    model = pickled_model(world, run_dir, tmp_path, marker, keep_safetensors=True)
    result = run([warm_python, "-m", "ligo.grow", "--model_type", "bert", "--config_name", str(world.large_config),
                  "--grow_scheme", "stackbert_direct_copy", "--source_model_path", str(model),
                  "--output_dir", str(tmp_path / "grown")], env=ENV)
    assert "wrote the stackbert_direct_copy-grown 4L-128H model" in result.stdout
    assert not marker.exists()
