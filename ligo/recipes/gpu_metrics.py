"""Throughput and model FLOPs utilisation (MFU) of finished runs, from their own metrics.jsonl.

    python -m ligo.recipes.gpu_metrics --device "NVIDIA H200" --run small=runs/gpu-check/small \\
        --run operator=runs/gpu-check/operator --markdown table.md

A metrics.jsonl row holds cumulative ``flops`` (analytic, ligo/models/flops.py), ``train_seconds``
(training steps only) and ``tokens``. Tokens/s and FLOP/s are given over the whole run and its
steady part (after the first logging window: CUDA warm-up), MFU against the device's bf16 dense
peak (PEAKS, or --peak_tflops); --predict LABEL=TOKENS adds how long training TOKENS more tokens
at LABEL's speed takes (gpu_check.sh's forecast of gpu_table1.sh). Imports neither torch nor
transformers.
"""

import json
import sys
from pathlib import Path

from ligo.base.command_line import OneLineParser
from ligo.base.errors import exit_on_user_error

# bf16 dense tensor-core peaks (TFLOP/s, no sparsity) from NVIDIA's data sheets; the first
# entry whose key is in the device name wins, so the more specific keys come first.
PEAKS = [
    ("H200 NVL", 835.0),
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("GH200", 989.0),
    ("H200", 989.0),
    ("H100", 989.0),  # SXM5 (torch names it e.g. "NVIDIA H100 80GB HBM3")
    ("B200", 2250.0),
    ("A100", 312.0),
    ("L40S", 362.0),
]


def peak_tflops(device: str) -> float | None:
    for key, peak in PEAKS:
        if key.lower() in device.lower():
            return peak
    return None


def load(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a run stopped while writing its last line
            break
    return rows


def rates(start: dict | None, end: dict):
    """(tokens/s, FLOP/s, steps, seconds) between two cumulative rows (start None: from zero)."""
    s = start or {"tokens": 0, "flops": 0, "train_seconds": 0.0, "step": 0}
    seconds = end["train_seconds"] - s["train_seconds"]
    if seconds <= 0:
        return None
    tokens, flops = end["tokens"] - s["tokens"], end["flops"] - s["flops"]
    return tokens / seconds, flops / seconds, end["step"] - s["step"], seconds


def summarise(label: str, run_dir: Path, peak: float | None) -> dict:
    rows = load(run_dir)
    trained = [r for r in rows if r.get("step", 0) > 0 and r.get("train_seconds", 0) > 0]
    out = {"label": label, "run": str(run_dir), "rows": len(rows)}
    if not trained:
        return out
    last = trained[-1]
    evals = [r["eval_loss"] for r in rows if isinstance(r.get("eval_loss"), (int, float))]
    out.update(steps=last["step"], tokens=last["tokens"], flops=last["flops"], seconds=last["train_seconds"],
               first_eval=evals[0] if evals else None, last_eval=evals[-1] if evals else None)
    out["whole"] = rates(None, last)
    out["steady"] = rates(trained[0], last) if last["step"] > trained[0]["step"] else None
    out["steady_from"] = trained[0]["step"]
    best = out["steady"] or out["whole"]
    out["mfu"] = best[1] / (peak * 1e12) if (best and peak) else None
    return out


def fmt_tokens(x: float) -> str:
    return f"{x / 1e6:.3f}M" if x >= 1e5 else f"{x:,.0f}"


@exit_on_user_error
def main(argv=None):
    parser = OneLineParser(prog="python -m ligo.recipes.gpu_metrics", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="", help="the CUDA device's name; empty: no GPU (MFU unknown)")
    parser.add_argument("--peak_tflops", type=float, help="bf16 dense peak of the device, overrides the table")
    parser.add_argument("--run", action="append", default=[], metavar="LABEL=RUN_DIR", required=True)
    parser.add_argument("--markdown", type=Path, help="write the table (Markdown) here")
    parser.add_argument("--predict", nargs="*", default=[], metavar="LABEL=TOKENS",
                        help="training tokens of another job at each run's steady speed")
    args = parser.parse_args(argv)

    peak = args.peak_tflops or (peak_tflops(args.device) if args.device else None)
    where = args.device or "no GPU (CPU)"
    peak_text = f"{peak:g} TFLOP/s bf16 dense peak of {where}" if peak else f"peak unknown for {where}"
    lines = [
        f"MFU against the {peak_text}; FLOPs are the runs' analytic counts (ligo/models/flops.py, "
        "ELECTRA's convention),",
        "time is training-step wall time (evaluation and checkpoints excluded); 'steady' leaves out the first",
        "logging window (CUDA and cuBLAS warm-up).",
        "",
        "| run | steps | tokens | train s | tokens/s | achieved TFLOP/s | tokens/s (steady) | TFLOP/s (steady) | MFU "
        "| eval loss (start -> end) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    results, failed = {}, False
    for item in args.run:
        label, _, run_dir = item.partition("=")
        s = summarise(label, Path(run_dir), peak)
        results[label] = s
        if "whole" not in s or s["whole"] is None:
            failed = True
            print(f"[gpu-check] {label}: no training metrics in {run_dir}/metrics.jsonl")
            lines.append(f"| {label} | — | — | — | — | — | — | — | — | no metrics |")
            continue
        tps, fps, _, _ = s["whole"]
        steady = s["steady"]
        mfu = f"{100 * s['mfu']:.1f}%" if s["mfu"] is not None else "unknown"
        loss = (f"{s['first_eval']:.3f} -> {s['last_eval']:.3f}" if s["first_eval"] is not None else "—")
        lines.append(
            f"| {label} | {s['steps']} | {s['tokens']:,} | {s['seconds']:.2f} | {fmt_tokens(tps)} | {fps / 1e12:.2f} | "
            + (f"{fmt_tokens(steady[0])} | {steady[1] / 1e12:.2f} | " if steady else "— | — | ")
            + f"{mfu} | {loss} |")
        best = steady or s["whole"]
        print(f"[gpu-check] {label}: {fmt_tokens(best[0])} tokens/s, {best[1] / 1e12:.2f} TFLOP/s achieved, "
              f"MFU {mfu}{'' if peak else ' (' + where + ')'}"
              f" ({'steady, from step ' + str(s['steady_from']) if steady else 'whole run'}; whole run "
              f"{fmt_tokens(tps)} tokens/s over {s['steps']} steps)")
    if args.predict:
        total, parts = 0.0, []
        for item in args.predict:
            label, _, tokens = item.partition("=")
            s = results.get(label, {})
            best = s.get("steady") or s.get("whole")
            if not best:
                parts = None
                break
            seconds = float(tokens) / best[0]
            total += seconds
            parts.append(f"{label} {seconds:.0f} s")
        if parts:
            text = (f"forecast: those training tokens take {total:.0f} s at these speeds ({', '.join(parts)}), "
                    "start-up, evaluation and checkpoints not counted")
            print(f"[gpu-check] {text}")
            lines += ["", f"- {text}"]
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
