"""LiGO operators saved by earlier code still load and grow the same weights.

tests/fixtures/operators/<family>/ holds a tiny operator of each family written by
``LiGOOperator.save`` and ``expected.safetensors``, what its ``operator()`` gave then (how they
were made: tests/fixtures/operators/make_fixtures.py, never rerun for an existing family). A
change to the layouts, the order of the depth tensor's module types or the growth map that would
grow another model from a saved operator fails here.
"""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ligo.growth.operator import LiGOOperator

FIXTURES = Path(__file__).parent / "fixtures" / "operators"


@pytest.mark.parametrize("family", ["bert", "roberta", "gpt2", "vit", "llama"])
def test_a_saved_operator_grows_the_weights_it_grew_when_saved(family):
    folder = FIXTURES / family
    operator = LiGOOperator.load(folder)
    assert operator.small_config.model_type == family
    expected = load_file(str(folder / "expected.safetensors"))
    with torch.no_grad():
        grown = operator()
    assert sorted(grown) == sorted(expected)
    different = [name for name in expected if not torch.equal(grown[name], expected[name])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
