"""Width expansions and depth coefficients: their initialisation schemes and how they apply.

A width expansion widens one space from ``old`` to ``new`` units. LiGO's is ``[I; S]``: the
first ``old`` units copy the small model and only ``S`` (``(new - old) x old``) is learned;
it widens a matrix's rows as ``B W``, its columns as ``W B^T`` and a vector as ``B b``.
The baselines use general matrices, with a separate matrix for columns (Net2Net divides
copied inputs by their number of copies). Every tensor may carry leading layer dimensions:
a stacked ``S`` of shape ``[layers, new - old, old]`` widens each layer with its own.
"""

import torch
from torch import Tensor

from ligo.base.errors import UserError
from ligo.growth.schemes import DEPTH_SCHEMES, WIDTH_SCHEMES


def init_width(n_rows: int, old: int, scheme: str, noise: float, generator: torch.Generator) -> Tensor:
    """The learned block ``S`` (``n_rows x old``): how each new unit mixes the old ones."""
    if scheme in ("rand", "rand_softmax"):
        return _normalised_uniform((n_rows, old), scheme, generator)
    if scheme in ("sel", "sel_noisy"):
        weights = torch.zeros(n_rows, old)
        if scheme == "sel_noisy":
            weights.uniform_(0.0, noise, generator=generator)
        chosen = torch.randint(0, old, (n_rows,), generator=generator)
        weights[torch.arange(n_rows), chosen] = 1.0  # Net2Net-style: each new unit copies one old unit
        return weights
    raise UserError(f"width init scheme '{scheme}' is not one of {', '.join(WIDTH_SCHEMES)}")


def init_depth(large_layers: int, small_layers: int, scheme: str, noise: float,
               generator: torch.Generator) -> Tensor:
    """Coefficients ``[large_layers, small_layers]``: large layer j = sum_i c[j, i] small layer i."""
    if scheme in ("rand", "rand_softmax"):
        return _normalised_uniform((large_layers, small_layers), scheme, generator)
    if scheme not in DEPTH_SCHEMES:
        raise UserError(f"depth init scheme '{scheme}' is not one of {', '.join(DEPTH_SCHEMES)}")
    coefficients = torch.zeros(large_layers, small_layers)
    if scheme.endswith("_noisy"):
        coefficients.uniform_(0.0, noise, generator=generator)
    large = torch.arange(large_layers)
    if scheme.startswith("stackbert"):
        source = large % small_layers  # StackBERT: the small encoder stacked on itself
    else:
        source = large * small_layers // large_layers  # interpolation: each small layer repeated in place
    coefficients[large, source] = 1.0
    return coefficients / coefficients.sum(dim=1, keepdim=True)


def _normalised_uniform(shape, scheme: str, generator: torch.Generator) -> Tensor:
    weights = torch.rand(shape, generator=generator)
    if scheme.endswith("softmax"):
        return torch.softmax(weights, dim=-1)
    return weights / weights.sum(dim=-1, keepdim=True)


class IdentityPlus:
    """LiGO's ``B = [I; S]`` (``S`` may be stacked per layer)."""

    def __init__(self, s: Tensor):
        self.s = s

    def rows(self, w: Tensor) -> Tensor:
        return torch.cat([w, self.s @ w], dim=-2)

    def cols(self, w: Tensor) -> Tensor:
        return torch.cat([w, w @ self.s.transpose(-1, -2)], dim=-1)

    def vec(self, b: Tensor) -> Tensor:
        return self.cols(b.unsqueeze(-2)).squeeze(-2)


class HeadIdentityPlus(IdentityPlus):
    """``[I; S]`` over whole heads: ``S`` (``[..., new - old heads, old heads]``) mixes heads, each
    coefficient applied alike to every coordinate of a head (``S`` kron ``I_head``), so that it
    commutes with any map that acts the same inside every head (rotary position embeddings)."""

    def __init__(self, s: Tensor, head_size: int):
        eye = torch.eye(head_size, dtype=s.dtype, device=s.device)
        units = s[..., :, None, :, None] * eye[:, None, :]  # [..., new, head_size, old, head_size]
        super().__init__(units.reshape(*s.shape[:-2], s.shape[-2] * head_size, s.shape[-1] * head_size))


class MatrixExpansion:
    """General expansion: rows and vectors by ``out`` (``new x old``), columns by ``inp``."""

    def __init__(self, out: Tensor, inp: Tensor):
        self.out, self.inp = out, inp

    def rows(self, w: Tensor) -> Tensor:
        return self.out @ w

    def cols(self, w: Tensor) -> Tensor:
        return w @ self.inp.transpose(-1, -2)

    def vec(self, b: Tensor) -> Tensor:
        return (b.unsqueeze(-2) @ self.out.transpose(-1, -2)).squeeze(-2)
