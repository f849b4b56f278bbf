"""The miniature Table 1 with several seeds of its large runs (scripts/mini_seeds.sh)."""

import os
import sys
import time
from pathlib import Path

from ligo.base.errors import UserError, exit_on_user_error
from ligo.recipes.runner import Environment, Job, call, dispatch, run_md_head, take, utc_now, write_run_md

USAGE = """usage: python -m ligo.recipes.mini_seeds COMMAND [ARGS...]
  begin        start the job's clock
  list         print the seeds (MINI_SEEDS: "17 18 19")
  table SEED   scripts/mini_table1.sh with SEED's large runs (MINI_SEEDS_RUNS/seed-SEED; 17: the main job's)
  report       mean ± sd over the seeds (python -m ligo.report.seeds) and RUN.md, in MINI_SEEDS_RESULTS"""

MAIN_SEED = 17  # the main job's: MINI_SEED's default
TABLE1 = Path(__file__).resolve().parents[2] / "scripts" / "mini_table1.sh"


def table_runs(env: Environment, seed: int) -> str:
    """Where SEED's runs of the table are: the main job's for its seed, else MINI_SEEDS_RUNS/seed-SEED."""
    if seed == MAIN_SEED:
        return env.text("MINI_RUNS", "runs/mini")
    return f"{env.text('MINI_SEEDS_RUNS', 'runs/mini-seeds')}/seed-{seed}"


def run_table(env: Environment, seed: int, results: str, command: str):
    """scripts/mini_table1.sh for SEED: its large runs and the operator (seed + 12, so 17 -> 29, the
    main job's) on the main job's small model; runs already finished are reused."""
    runs = table_runs(env, seed)
    call(["bash", os.path.relpath(TABLE1)], env={
        "MINI_SEED": str(seed), "MINI_OPERATOR_SEED": str(seed + 12), "MINI_RUNS": runs,
        "MINI_SMALL_RUN": f"{env.text('MINI_RUNS', 'runs/mini')}/small", "MINI_RESULTS": results,
        "MINI_COMMAND": command})


def parse_seed(seed: str) -> int:
    if not seed.isdigit():
        raise UserError(f"'{seed}' is not a seed; give a whole number, e.g. 18")
    return int(seed)


class Seeds:
    def __init__(self, env: Environment):
        self.env = env
        self.seeds_text = env.text("MINI_SEEDS", "17 18 19")
        self.seeds = env.numbers("MINI_SEEDS", "17 18 19")
        self.main_runs = env.text("MINI_RUNS", "runs/mini")
        self.root = env.text("MINI_SEEDS_RUNS", "runs/mini-seeds")
        self.results = env.text("MINI_SEEDS_RESULTS", "results/mini-seeds")
        self.job = Job(self.root, "seeds")

    def table(self, seed: str):
        seed = parse_seed(seed)
        print(f"=== mini seeds: seed {seed} ({table_runs(self.env, seed)})", flush=True)
        run_table(self.env, seed, f"{self.results}/seed-{seed}", "bash scripts/mini_seeds.sh")

    def report(self):
        reports = [arg for seed in self.seeds for arg in ("--report", f"seed-{seed}={self.results}/seed-{seed}")]
        call([self.env.python(), "-m", "ligo.report.seeds", *reports, "--output_dir", self.results, "--focus", "LiGO"])
        wall = int(time.time()) - self.job.state()["begun"]
        write_run_md(f"{self.results}/RUN.md", [
            *run_md_head("table", f"`bash scripts/mini_seeds.sh` (after `make mini`), seeds: {self.seeds_text}"),
            f"- finished: {utc_now()}; wall time {wall} s (runs already finished are reused)",
            f"- every seed runs scripts/mini_table1.sh with MINI_SEED=seed, MINI_OPERATOR_SEED=seed + 12 and the small "
            f"model of `{self.main_runs}/small`; seed {MAIN_SEED}'s runs are the main job's (`{self.main_runs}`), the "
            f"others' are in `{self.root}/seed-N`. Each seed's report, with its RUN.md (settings, per-run wall times), "
            "is in `seed-N/` here."])


def seed_commands(over) -> dict:
    """The commands of a job over seeds (``over``: its ``job``, ``seeds``, ``table`` and ``report``)."""
    return {"begin": lambda args: over.job.begin(*take(args, flags=False)),
            "list": lambda args: print(*over.seeds, *take(args, flags=False)),
            "table": lambda args: over.table(*take(args, "SEED", flags=False)),
            "report": lambda args: over.report(*take(args, flags=False))}


@exit_on_user_error
def main(argv: list[str] | None = None):
    argv = sys.argv[1:] if argv is None else argv
    dispatch(seed_commands(Seeds(Environment())), argv, USAGE)


if __name__ == "__main__":
    main()
