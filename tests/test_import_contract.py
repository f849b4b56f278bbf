"""The import contract in pyproject.toml (checked by ``lint-imports`` in CI) holds on the code and
fails on a copy of it into which an upward import or a cycle is planted."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("ligo", "tokenization", "bench")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH first: the copy's packages, not the editable install's, are the ones analysed.
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def copy(tmp_path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "out"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_code_keeps_its_layers_and_has_no_cycles():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers(copy):
    # models is below training: a model family may not reach into the training loop.
    (copy / "ligo/models/planted.py").write_text("from ligo.training.trainer import Trainer  # noqa: F401\n")
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Layers: each imports only from those below it BROKEN" in result.stdout
    assert "ligo.models.planted -> ligo.training.trainer" in result.stdout


def test_a_lazy_upward_import_inside_a_function_breaks_them_too(copy):
    (copy / "ligo/data/planted.py").write_text(
        "def late():\n    from ligo.growth.operator import LiGOOperator  # noqa: F401\n")
    result = lint_imports(copy)
    assert result.returncode == 1 and "ligo.data.planted -> ligo.growth.operator" in result.stdout


def test_a_cycle_between_modules_of_one_folder_is_refused(copy):
    # Both in training, so no layer is crossed: only the acyclic contract sees it.
    optim = copy / "ligo/training/optim.py"
    optim.write_text(optim.read_text() + "\nfrom ligo.training import trainer  # noqa: E402, F401\n")
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Layers: each imports only from those below it KEPT" in result.stdout
    assert "No import cycles between the modules or packages of one folder BROKEN" in result.stdout
