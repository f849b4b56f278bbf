"""Measurements of growth: two behind the ablation of the miniature Table 1
(scripts/mini_ablation.sh), and what each baseline keeps of a source model.

    python -m ligo.growth.diagnostics movement --operator runs/ablation/op-authors ...
    python -m ligo.growth.diagnostics rank --run runs/mini/ligo --steps 0 100 --tensors NAME ...
    python -m ligo.growth.diagnostics preservation --source runs/bert-small --targets configs/bert-6L-768H.json \
        --schemes net2net bert2bert_fpi stackbert --text data/wiki-sample-cased/en.valid.raw

``movement``: how far each operator run's learned parts moved from their initialisation
(checkpoint 0) by its last checkpoint: ||theta - theta_0|| / ||theta_0|| for the depth
coefficients, the width blocks and the residuals. An operator whose learning rate never
left warm-up barely moves: the grown model is then its initialisation.

``rank``: the effective rank of grown weight matrices at given checkpoints of a run: the
exponential of the entropy of the normalised singular values (Roy and Vetterli, 2007), and
the number of singular values above 1e-3 of the largest. New units that are combinations of
old ones (LiGO's ``[I; S]``, bert2BERT's copies) give a grown matrix of rank at most the
small model's width; StackBERT's random new units give a full-rank one.

``preservation``: how far a baseline's grown model, before any training, computes what its
source computes, on real text: the largest difference of their output logits at the scored
positions (masked tokens, or every token of a causal LM), how often their top-1 predictions
agree there, both losses, and the largest difference of the last hidden states on the source's
own units (a widened model keeps them first). Function-preserving growth (Net2Net and FPI at an
integer width factor) should give rounding-level differences and full agreement.

Each prints a Markdown table (``--output FILE`` also writes it there).
"""

from pathlib import Path

import torch
from safetensors.torch import load_file

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.data.masking import IGNORE_INDEX, SeededMLMCollator
from ligo.data.tokenizer import load_tokenizer
from ligo.growth.baselines import grow_baseline
from ligo.growth.grown_model import materialize
from ligo.growth.operator import WEIGHTS_FILE
from ligo.models.families import family_of
from ligo.models.loading import load_config, load_model
from ligo.training import checkpoint

MODEL_WEIGHTS = "model.safetensors"
OPERATOR_PARTS = ("depth", "width", "residual")


def _checkpoints(run_dir) -> list[tuple[int, Path]]:
    found = checkpoint.list_checkpoints(run_dir)
    if not found:
        raise UserError(f"'{run_dir}' holds no checkpoint; pass the --output_dir of a finished run")
    return found


def _load(folder: Path, name: str) -> dict[str, torch.Tensor]:
    path = folder / name
    if not path.is_file():
        raise UserError(f"'{folder}' has no {name}; pass a run of the right kind (operator: run_grow_distributed.py, "
                        "model: run_lm_distributed.py)")
    return load_file(str(path))


def movement(run_dir) -> dict[str, float | int]:
    """Relative distance of each learned part from its initialisation, and the last step."""
    found = _checkpoints(run_dir)
    (_, first), (last_step, last) = found[0], found[-1]
    start, end = _load(first, WEIGHTS_FILE), _load(last, WEIGHTS_FILE)
    moved = {"step": last_step}
    for part in OPERATOR_PARTS:
        keys = [k for k in start if k == part or k.startswith(part + ".")]
        if not keys:
            continue
        delta = sum(float((end[k].float() - start[k].float()).pow(2).sum()) for k in keys) ** 0.5
        norm = sum(float(start[k].float().pow(2).sum()) for k in keys) ** 0.5
        moved[part] = delta / norm if norm else float("nan")
    return moved


def effective_rank(matrix: torch.Tensor) -> tuple[float, int]:
    s = torch.linalg.svdvals(matrix.double())
    p = s / s.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum())), int((s > 1e-3 * s[0]).sum())


def ranks(run_dir, steps: list[int], names: list[str]) -> list[dict]:
    by_step = dict(_checkpoints(run_dir))
    rows = []
    for step in steps:
        if step not in by_step:
            raise UserError(f"'{run_dir}' has no checkpoint of step {step} (it has {sorted(by_step)}); "
                            "pass steps it saved (--ckpt_steps)")
        weights = _load(by_step[step], MODEL_WEIGHTS)
        for name in names:
            if name not in weights or weights[name].ndim != 2:
                raise UserError(f"'{by_step[step]}' has no weight matrix '{name}'; pass a 2-D weight's name "
                                f"(e.g. {next(k for k, v in weights.items() if v.ndim == 2)})")
            erank, numerical = effective_rank(weights[name])
            shape = "x".join(map(str, weights[name].shape))
            rows.append({"run": str(run_dir), "step": step, "tensor": name, "shape": shape,
                         "effective_rank": erank, "rank": numerical})
    return rows


def scored_batch(tokenizer, text: Path, sequences: int, block_size: int, seed: int, mlm: bool) -> dict:
    """The first ``sequences`` non-empty lines of ``text``, each cut to ``block_size`` tokens, masked
    as evaluation masks them (ligo/data/masking.py) for a masked LM."""
    lines = [line for line in text.read_text(encoding="utf-8").splitlines() if line.strip()][:sequences]
    if not lines:
        raise UserError(f"--text '{text}' holds no text; pass a text file such as data/wiki-sample-cased/en.valid.raw")
    examples = [{"input_ids": torch.tensor(tokenizer(line, truncation=True, max_length=block_size)["input_ids"]),
                 "mask_key": key} for key, line in enumerate(lines)]
    return SeededMLMCollator(tokenizer, seed=seed, mlm=mlm)(examples)


@torch.no_grad()
def preservation(source, targets: list[str], schemes: list[str], batch: dict, seed: int) -> list[dict]:
    """One row for each target config and scheme: the grown model against ``source`` on ``batch``."""
    source.eval()
    scored = batch["labels"] != IGNORE_INDEX
    reference = source(**batch, output_hidden_states=True)
    width = source.config.hidden_size
    rows = []
    for target in targets:
        config = load_config(source.config.model_type, target)
        for scheme in schemes:
            row = {"target": f"{config.num_hidden_layers}L-{config.hidden_size}H", "scheme": scheme}
            try:
                grown = materialize(grow_baseline(scheme, source.state_dict(), source.config, config, seed), config,
                                    seed)
            except UserError as err:  # a scheme that does not grow this pair (net2net grows width only)
                rows.append({**row, "refused": str(err).split(";")[0]})
                continue
            grown.eval()
            out = grown(**batch, output_hidden_states=True)
            a, b = reference.logits[scored], out.logits[scored]
            rows.append({**row, "max_logit_diff": (a - b).abs().max().item(),
                         "top1_agreement": (a.argmax(-1) == b.argmax(-1)).float().mean().item(),
                         "source_loss": reference.loss.item(), "grown_loss": out.loss.item(),
                         "max_hidden_diff": (reference.hidden_states[-1] - out.hidden_states[-1][..., :width])
                         .abs().max().item()})
    return rows


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]) + "\n"


@exit_on_user_error
def main(argv=None):
    parser = OneLineParser(prog="python -m ligo.growth.diagnostics", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    move = sub.add_parser("movement", help="how far operators moved from their initialisation")
    move.add_argument("--operator", nargs="+", required=True, metavar="RUN_DIR", help="run_grow_distributed.py runs")
    rank = sub.add_parser("rank", help="effective rank of grown weight matrices")
    rank.add_argument("--run", nargs="+", required=True, metavar="RUN_DIR", help="run_lm_distributed.py runs")
    rank.add_argument("--steps", nargs="+", type=int, required=True, help="checkpoint steps (0: the grown model)")
    rank.add_argument("--tensors", nargs="+", required=True, metavar="NAME", help="weight names in model.safetensors")
    keep = sub.add_parser("preservation", help="what each baseline's grown model keeps of its source")
    keep.add_argument("--source", required=True, help="the small model: a checkpoint folder or a run's output_dir")
    keep.add_argument("--model_type", default="bert", help="the source's family")
    keep.add_argument("--targets", nargs="+", required=True, metavar="CONFIG", help="large configs (JSON)")
    keep.add_argument("--schemes", nargs="+", required=True, metavar="SCHEME", help="baselines (ligo.growth.schemes)")
    keep.add_argument("--text", type=Path, required=True, help="a text file, one sequence a line")
    keep.add_argument("--tokenizer_name", help="default: the source's folder")
    keep.add_argument("--sequences", type=int, default=64)
    keep.add_argument("--block_size", type=int, default=128)
    keep.add_argument("--seed", type=int, default=95, help="the masks and the baselines' random parts")
    for command in (move, rank, keep):
        command.add_argument("--output", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    if args.command == "preservation":
        source_path = checkpoint.resolve_model_path(args.source)
        source = load_model(args.model_type, source_path)
        objective = family_of(args.model_type).objective
        if objective not in ("mlm", "clm"):
            raise UserError(f"preservation measures language models; --model_type {args.model_type} is not one")
        batch = scored_batch(load_tokenizer(args.tokenizer_name or source_path), args.text, args.sequences,
                             args.block_size, args.seed, mlm=objective == "mlm")
        found = preservation(source, args.targets, args.schemes, batch, args.seed)
        table = _table(["target", "scheme", "max logit diff", "top-1 agreement", "loss: source -> grown",
                        "max hidden diff (source units)"],
                       [[r["target"], r["scheme"], f"refused: {r['refused']}", "", "", ""] if "refused" in r else
                        [r["target"], r["scheme"], f"{r['max_logit_diff']:.2g}", f"{r['top1_agreement']:.1%}",
                         f"{r['source_loss']:.3f} -> {r['grown_loss']:.3f}", f"{r['max_hidden_diff']:.2g}"]
                        for r in found])
    elif args.command == "movement":
        found = [(run, movement(run)) for run in args.operator]
        table = _table(["operator run", "steps", *(f"{part} moved" for part in OPERATOR_PARTS)],
                       [[f"`{run}`", m["step"], *(f"{m[part]:.3g}" if part in m else "—" for part in OPERATOR_PARTS)]
                        for run, m in found])
    else:
        found = [row for run in args.run for row in ranks(run, args.steps, args.tensors)]
        table = _table(["run", "step", "tensor", "shape", "effective rank", "rank (σ > 1e-3 σ_max)"],
                       [[f"`{r['run']}`", r["step"], r["tensor"], r["shape"], f"{r['effective_rank']:.1f}", r["rank"]]
                        for r in found])
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(table, encoding="utf-8")
    print(table, end="")


if __name__ == "__main__":
    main()
