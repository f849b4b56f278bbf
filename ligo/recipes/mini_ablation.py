"""An ablation of the miniature Table 1 (scripts/mini_ablation.sh): each cell one grown run of the
table's large-run settings against the same seed's scratch run; only what the cell names changes."""

import os
import sys
import time

from ligo.base.errors import UserError, exit_on_user_error
from ligo.recipes.mini import Mini
from ligo.recipes.mini_seeds import parse_seed, run_table, seed_commands, table_runs
from ligo.recipes.runner import Environment, Job, call, dispatch, run_md_head, take, utc_now, write_run_md

USAGE = """usage: python -m ligo.recipes.mini_ablation COMMAND [ARGS...]
  begin        start the job's clock (and check ABLATION_CELLS)
  list         print the seeds (ABLATION_SEEDS: "17 18")
  table SEED   the table's own runs for SEED (scripts/mini_table1.sh), reused when finished
  cells SEED   every cell of ABLATION_CELLS for SEED, then its savings report in ABLATION_RESULTS/seed-SEED
  report       mean ± sd over the seeds, operator movement, grown-matrix ranks and RUN.md in ABLATION_RESULTS"""

NOISY_RAND = ["--fuse_init_scheme", "stackbert_noisy", "rand"]  # the table's operator init
# A LiGO operator, then its grown run: the row's label, the operator's steps (None: the table's)
# and its flags. The authors' README recipe inherits bert_wiki.txt's lr 2e-4 and warmup_steps 10000.
OPERATOR_CELLS = {
    "ops-1pct": ("LiGO, operator 1% (10 steps)", 10, NOISY_RAND),
    "ops-25pct": ("LiGO, operator 25% (250 steps)", 250, NOISY_RAND),
    "op-authors": ("LiGO, authors' operator recipe (lr 2e-4, warm-up 10000)", None,
                   [*NOISY_RAND, "--learning_rate", "2e-4", "--warmup_steps", "10000"]),
    "op-lr-low": ("LiGO, operator lr 1e-4", None, [*NOISY_RAND, "--learning_rate", "1e-4"]),
    "width-sel_noisy": ("LiGO, width init sel_noisy", None, ["--fuse_init_scheme", "stackbert_noisy", "sel_noisy"]),
    "residual": ("LiGO, --tune_residual", None, [*NOISY_RAND, "--tune_residual"]),
}
ALL_CELLS = ("ops-0", "ops-1pct", "ops-25pct", "op-authors", "op-lr-low", "width-sel_noisy", "residual",
             "ligo-warmup", "stackbert-warmup", "stackbert-ligo-width")
TABLE_LIGO = "LiGO (table: 2.5% operator)"
# Query (attention) and FFN-in of the first and last large layers.
RANK_TENSORS = ("bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.3.attention.self.query.weight",
                "bert.encoder.layer.0.intermediate.dense.weight", "bert.encoder.layer.3.intermediate.dense.weight")


def train_cell(mini: Mini, cell: str, base: str, out: str) -> str:
    """Train CELL's runs into OUT (the table's own in BASE); returns its report's ``--run`` value."""
    run = f"{out}/{cell}"
    if cell in OPERATOR_CELLS:
        label, steps, flags = OPERATOR_CELLS[cell]
        mini.operator(f"{run}-operator", flags, steps)
        mini.grown(run, "ligo", ["--pretrained_ligo_path", f"{run}-operator"])
        return f"{label}={run}+{run}-operator"
    if cell == "ops-0":  # the table's operator at its initialisation: its checkpoint 0
        mini.grown(run, "ligo", ["--pretrained_ligo_path", f"{base}/ligo-operator/checkpoints/checkpoint-00000000"])
        return f"LiGO, 0 operator steps (init alone)={run}"
    if cell == "ligo-warmup":
        mini.grown(run, "ligo", ["--pretrained_ligo_path", f"{base}/ligo-operator",
                                 "--warmup_steps", str(mini.scratch_warmup)])
        return f"LiGO, scratch's warm-up after growth={run}+{base}/ligo-operator"
    if cell == "stackbert-warmup":
        mini.grown(run, "stackbert_direct_copy", ["--warmup_steps", str(mini.scratch_warmup)])
        return f"StackBERT, scratch's warm-up after growth={run}"
    # stackbert-ligo-width: an untrained operator, whose checkpoint 0 is StackBERT's depth (no
    # noise) with LiGO's width initialisation.
    mini.operator(f"{run}-operator", ["--fuse_init_scheme", "stackbert", "rand"], 1)
    mini.grown(run, "ligo", ["--pretrained_ligo_path", f"{run}-operator/checkpoints/checkpoint-00000000"])
    return f"StackBERT with LiGO's width init (rand)={run}"


class Ablation:
    def __init__(self, env: Environment):
        self.env = env
        self.seeds_text = env.text("ABLATION_SEEDS", "17 18")
        self.seeds = env.numbers("ABLATION_SEEDS", "17 18")
        self.cells = env.text("ABLATION_CELLS", " ".join(ALL_CELLS)).split()
        for cell in self.cells:
            if cell not in ALL_CELLS:
                raise UserError(f"ABLATION_CELLS: '{cell}' is not one of: {' '.join(ALL_CELLS)}")
        self.root = env.text("ABLATION_RUNS", "runs/ablation")
        self.results = env.text("ABLATION_RESULTS", "results/ablation")
        self.main_runs = env.text("MINI_RUNS", "runs/mini")
        self.rank_step = env.number("ABLATION_RANK_STEP", 100)
        self.job = Job(self.root, "ablation")

    def table(self, seed: str):
        seed = parse_seed(seed)
        base = table_runs(self.env, seed)
        print(f"=== ablation: seed {seed} (the table's runs: {base})", flush=True)
        run_table(self.env, seed, f"{base}/report", "bash scripts/mini_ablation.sh")

    def train_cells(self, seed: str):
        seed = parse_seed(seed)
        base = table_runs(self.env, seed)
        # The table's settings for this seed, as its table ran them.
        mini = Mini.from_env("table1", Environment({
            **self.env.env, "MINI_SEED": str(seed), "MINI_OPERATOR_SEED": str(seed + 12), "MINI_RUNS": base,
            "MINI_SMALL_RUN": f"{self.main_runs}/small"}))
        runs = ["--run", f"{TABLE_LIGO}={base}/ligo+{base}/ligo-operator",
                "--run", f"StackBERT (table)={base}/stackbert_direct_copy"]
        for cell in self.cells:
            print(f"== ablation seed {seed}: {cell}", flush=True)
            runs += ["--run", train_cell(mini, cell, base, f"{self.root}/seed-{seed}")]
        call([self.env.python(), "-m", "ligo.report", "--scratch", f"{base}/scratch", "--small",
              f"{self.main_runs}/small", "--output_dir", f"{self.results}/seed-{seed}", *runs, "--focus", TABLE_LIGO])

    def report(self):
        python = self.env.python()
        print(f"=== ablation: mean ± sd over seeds {self.seeds_text}, operator movement, grown-matrix ranks",
              flush=True)
        reports = [arg for seed in self.seeds for arg in ("--report", f"seed-{seed}={self.results}/seed-{seed}")]
        call([python, "-m", "ligo.report.seeds", *reports, "--output_dir", self.results, "--focus", TABLE_LIGO])
        first = self.seeds[0]
        base = table_runs(self.env, first)
        operators = [f"{base}/ligo-operator", *(f"{self.root}/seed-{first}/{cell}-operator" for cell in self.cells
                                               if os.path.isdir(f"{self.root}/seed-{first}/{cell}-operator"))]
        call([python, "-m", "ligo.growth.diagnostics", "movement", "--operator", *operators,
              "--output", f"{self.results}/operator_movement.md"])
        call([python, "-m", "ligo.growth.diagnostics", "rank", "--run", f"{base}/ligo",
              f"{base}/stackbert_direct_copy", f"{base}/bert2bert_aki", "--steps", "0", str(self.rank_step),
              "--output", f"{self.results}/grown_ranks.md", "--tensors", *RANK_TENSORS])
        wall = int(time.time()) - self.job.state()["begun"]
        write_run_md(f"{self.results}/RUN.md", [
            *run_md_head("ablation", f"`bash scripts/mini_ablation.sh` (after `make mini`), seeds: {self.seeds_text}; "
                                     f"cells: {' '.join(self.cells)}"),
            f"- finished: {utc_now()}; wall time {wall} s (finished runs are reused)",
            "- every cell: one grown run of the table's large-run settings (ligo/recipes/mini.py) against its seed's "
            f"scratch run; per-seed reports in `seed-N/`, mean ± sd in `seeds.md`, operator movement (seed {first}) in "
            f"`operator_movement.md`, grown-matrix ranks (seed {first}) in `grown_ranks.md`"])


@exit_on_user_error
def main(argv: list[str] | None = None):
    argv = sys.argv[1:] if argv is None else argv
    ablation = Ablation(Environment())
    commands = seed_commands(ablation)
    commands["cells"] = lambda args: ablation.train_cells(*take(args, "SEED", flags=False))
    dispatch(commands, argv, USAGE)


if __name__ == "__main__":
    main()
