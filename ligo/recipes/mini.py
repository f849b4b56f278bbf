"""The miniatures' runs and RUN.md: Table 1 (`make mini`), its Figure 5, GPT-2 and ViT."""

import time
from dataclasses import dataclass

from ligo.base.errors import UserError, exit_on_user_error
from ligo.recipes import data
from ligo.recipes.runner import (
    Environment,
    Job,
    call,
    dispatch_on,
    run_md_head,
    take,
    timing_table,
    train,
    training_command,
    utc_now,
    write_run_md,
)

USAGE = """usage: python -m ligo.recipes.mini MINIATURE COMMAND [ARGS...]

MINIATURE: table1 or figure5 (BERT 2L-64H -> 4L-128H, the same runs), gpt2, llama or vit. Every command
prints the command it runs; a finished run is skipped, an interrupted one resumed.
  begin                        start the job's clock and its table of run timings
  get VARIABLE                 print a setting, e.g. MINI_RUNS
  flags layer-drop|token-drop  print the flags of Figure 5's layer or token dropping
  small                        the small model (MINI_SMALL_RUN)
  scratch OUT [FLAGS...]       the large model from scratch
  operator OUT [FLAGS...]      a LiGO operator of OPERATOR_STEPS steps
  grown OUT SCHEME [FLAGS...]  the large model grown by SCHEME from the small one, then trained
  mslt OUT [FLAGS...]          MSLT: stages of 10% of the large run's steps, then the whole model
  ki OUT [FLAGS...]            KI: the large model from scratch, taught by the small one
  report [ARGS...]             python -m ligo.report into the results folder, against OUT=RUNS/scratch
  run-md                       the results folder's RUN.md
Settings: the environment variables listed in scripts/mini_table1.sh (docs/mini.md)."""


@dataclass(frozen=True)
class Defaults:
    config: str
    small: str
    large: str
    runs: str
    steps: int  # SMALL_STEPS and LARGE_STEPS
    results: tuple[str, str]  # its variable and its default
    command: str  # MINI_COMMAND's default
    # The operator's default share of the large run: 2.5% rounded up (BERT's 25 of 1000), or down
    # but at least one step (GPT-2's 12 of 500, ViT's 15 of 600).
    operator_rounds_up: bool
    # MINI_GROW_NOISE's default: the std of the Net2Net+noise row's --grow_noise; "" runs no such row.
    grow_noise: str = ""


BERT = dict(config="configs/bert_mini_table1.txt", small="configs/bert-mini-2L-64H.json",
            large="configs/bert-mini-4L-128H.json", runs="runs/mini", steps=1000, command="make mini",
            operator_rounds_up=True)
MINIATURES = {
    "table1": Defaults(**BERT, results=("MINI_RESULTS", "results/mini")),
    "figure5": Defaults(**BERT, results=("MINI_FIGURE5_RESULTS", "results/mini-figure5")),
    # Half the BERT miniature's steps, so that the whole job fits 10 minutes on 2 cores (a GPT-2
    # step of this shape costs ~1.1x a BERT one).
    "gpt2": Defaults("configs/gpt2_mini.txt", "configs/gpt2-mini-2L-64H.json", "configs/gpt2-mini-4L-128H.json",
                     "runs/mini-gpt2", 500, ("MINI_RESULTS", "results/mini-gpt2"), "make mini-gpt2", False),
    # GPT-2's miniature for a Llama with grouped-query attention, at its steps.
    "llama": Defaults("configs/llama_mini.txt", "configs/llama-mini-2L-64H.json", "configs/llama-mini-4L-128H.json",
                      "runs/mini-llama", 500, ("MINI_RESULTS", "results/mini-llama"), "make mini-llama", False,
                      grow_noise="0.1"),
    "vit": Defaults("configs/vit_mini.txt", "configs/vit-mini-2L-32H.json", "configs/vit-mini-4L-64H.json",
                    "runs/mini-vit", 600, ("MINI_RESULTS", "results/mini-vit"), "make mini-vit", False),
}

CAUSAL = ("gpt2", "llama")  # the causal-LM miniatures: a text folder and a tokenizer of their own


@dataclass
class Mini:
    """One miniature's settings, read once from the environment, and its runs."""

    name: str
    env: Environment
    python: str
    entry: str
    config: str
    small: str
    large: str
    small_steps: int
    large_steps: int
    operator_steps: int
    small_warmup: int
    scratch_warmup: int
    grown_warmup: int
    seed: int
    operator_seed: int
    runs: str
    small_run: str
    results: str
    flags_text: str  # every run's extra flags, as the RUN.md states them
    data: str | None = None  # gpt2, llama: the text folder; vit: the image folder
    tokenizer: str | None = None  # gpt2, llama
    grow_noise: str = ""  # the Net2Net+noise row's --grow_noise (causal miniatures); "": no such row
    job: Job | None = None

    @classmethod
    def from_env(cls, name: str, env: Environment | None = None) -> "Mini":
        env = env or Environment()
        defaults = MINIATURES[name]
        runs = env.text("MINI_RUNS", defaults.runs)
        large_steps = env.number("LARGE_STEPS", defaults.steps, 1)
        small_steps = env.number("SMALL_STEPS", defaults.steps, 1)
        share = -(-large_steps // 40) if defaults.operator_rounds_up else max(large_steps // 40, 1)
        operator_steps = env.number("OPERATOR_STEPS", share, 1)
        # The paper trains its operator 100 steps against 400K of the large model, and its Table 3
        # still saves 38.9% at 2.5%: the most we allow. One step at least, however short the run.
        if operator_steps > 1 and operator_steps * 40 > large_steps and not env.is_set("MINI_ALLOW_LONG_OPERATOR"):
            raise UserError(f"OPERATOR_STEPS={operator_steps} is over 2.5% of LARGE_STEPS={large_steps} (the paper's "
                            "largest share, its Table 3); lower it, or set MINI_ALLOW_LONG_OPERATOR=1 for an ablation")
        data = tokenizer = None
        flags_text = env.text("MINI_FLAGS")
        entry = env.text("MINI_ENTRY", "run_lm_distributed.py")
        if name in CAUSAL:
            data = env.text(f"MINI_{name.upper()}_DATA", "data/wiki-sample-cased-untokenized")
            tokenizer = env.text(f"MINI_{name.upper()}_TOKENIZER", f"data/tokenizers/{name}-sample")
        if name == "vit":
            data = env.text("MINI_VIT_DATA", "data/digits")
            flags_text = f"--data_path {data} {flags_text}" if flags_text else f"--data_path {data}"
            entry = "run_image_distributed.py"  # image models have their own entry (the same loop and flags)
        return cls(
            name=name, env=env, python=env.python(), entry=entry, config=env.text("MINI_CONFIG", defaults.config),
            small=env.text("MINI_SMALL_CONFIG", defaults.small), large=env.text("MINI_LARGE_CONFIG", defaults.large),
            small_steps=small_steps, large_steps=large_steps, operator_steps=operator_steps,
            # Warm-ups in the paper's proportions: 10K of 400K steps for scratch (and here the small
            # model); none after growth for BERT, at the same peak learning rate (SPEC section 6).
            small_warmup=env.number("SMALL_WARMUP", small_steps // 40),
            scratch_warmup=env.number("SCRATCH_WARMUP", large_steps // 40),
            grown_warmup=env.number("GROWN_WARMUP", 0),
            # The small model keeps its config's seed; the others another one, so that they do not
            # replay the batches and masks the small model was trained on first.
            seed=env.number("MINI_SEED", 17), operator_seed=env.number("MINI_OPERATOR_SEED", 29),
            runs=runs, small_run=env.text("MINI_SMALL_RUN", f"{runs}/small"), results=env.text(*defaults.results),
            flags_text=flags_text, data=data, tokenizer=tokenizer,
            grow_noise=env.text("MINI_GROW_NOISE", defaults.grow_noise))

    def get(self, variable: str) -> str:
        """A setting by its environment variable's name."""
        values = {"MINI_RUNS": self.runs, "MINI_SMALL_RUN": self.small_run, MINIATURES[self.name].results[0]:
                  self.results, "MINI_CONFIG": self.config, "MINI_SMALL_CONFIG": self.small,
                  "MINI_LARGE_CONFIG": self.large, "MINI_ENTRY": self.entry, "MINI_FLAGS": self.flags_text,
                  "SMALL_STEPS": self.small_steps, "LARGE_STEPS": self.large_steps,
                  "OPERATOR_STEPS": self.operator_steps, "SMALL_WARMUP": self.small_warmup,
                  "SCRATCH_WARMUP": self.scratch_warmup, "GROWN_WARMUP": self.grown_warmup, "MINI_SEED": self.seed,
                  "MINI_OPERATOR_SEED": self.operator_seed, "PYTHON": self.python}
        if self.name in CAUSAL:
            values.update({f"MINI_{self.name.upper()}_DATA": self.data,
                           f"MINI_{self.name.upper()}_TOKENIZER": self.tokenizer, "MINI_GROW_NOISE": self.grow_noise})
        if self.name == "vit":
            values.update(MINI_VIT_DATA=self.data)
        if variable not in values:
            raise UserError(f"{variable} is not a setting of the {self.name} miniature; use one of: "
                            f"{', '.join(sorted(values))}")
        return str(values[variable])

    def train(self, out: str, steps: int, entry: str, flags: list[str]):
        flags = [*self.flags_text.split(), *flags]
        train(out, steps, training_command(self.python, entry, self.config, out, steps, flags=flags), "mini", self.job)

    def train_small(self):
        self.train(self.small_run, self.small_steps, self.entry,
                   ["--config_name", self.small, "--warmup_steps", str(self.small_warmup)])

    def scratch(self, out: str, flags: list[str]):
        self.train(out, self.large_steps, self.entry, ["--config_name", self.large, "--seed", str(self.seed),
                                                       "--warmup_steps", str(self.scratch_warmup), *flags])

    def operator(self, out: str, flags: list[str], steps: int | None = None):
        steps = steps or self.operator_steps
        self.train(out, steps, "run_grow_distributed.py", [
            "--config_name", self.large, "--source_model_path", self.small_run, "--tune_width", "--tune_depth",
            "--seed", str(self.operator_seed), "--warmup_steps", str(steps // 10), *flags])

    def grown(self, out: str, scheme: str, flags: list[str]):
        self.train(out, self.large_steps, self.entry, [
            "--config_name", self.large, "--seed", str(self.seed), "--grow_scheme", scheme,
            "--source_model_path", self.small_run, "--warmup_steps", str(self.grown_warmup), *flags])

    def mslt(self, out: str, flags: list[str]):
        # Two stages of 10% of the large run's steps each, then the whole model: as many steps as
        # every other large run; from the small model, as the grown runs.
        stage = str(max(self.large_steps // 10, 1))
        self.grown(out, "mslt", ["--mslt_stage_steps", stage, stage, *flags])

    def ki(self, out: str, flags: list[str]):
        # From scratch as scratch (its warm-up), the small model teaching for the first 55/125 of the steps.
        self.train(out, self.large_steps, self.entry, [
            "--config_name", self.large, "--seed", str(self.seed), "--grow_scheme", "ki",
            "--source_model_path", self.small_run, "--warmup_steps", str(self.scratch_warmup), *flags])

    def method_flags(self, method: str) -> list[str]:
        if method == "layer-drop":
            # PLD's gamma in the paper-scale recipe's proportion: 0.001 over 400K steps.
            gamma = 0.001 * 400000 / self.large_steps
            return ["--layer_drop", "--layer_drop_rate", "0.5", "--layer_drop_lin_decay", "--layer_drop_gamma",
                    str(gamma)]
        if method == "token-drop":
            # Half the tokens from the middle layer (Hou et al.: L/2 = 2 of 4) to the last.
            return ["--token_drop", "--token_drop_rate", "0.5", "--token_drop_start", "2", "--token_drop_end", "-1"]
        raise UserError(f"'{method}' has no flags here; use layer-drop or token-drop")

    def report(self, args: list[str]):
        call([self.python, "-m", "ligo.report", "--scratch", f"{self.runs}/scratch", "--small", self.small_run,
              "--output_dir", self.results, *args])

    def begin(self):
        self.job.begin(self.env.number("MINI_STARTED", 0) or None)  # set by the Makefile before set-up

    def run_md(self):
        state = self.job.state()
        now = int(time.time())
        training = now - (state["training_started"] or state["begun"])
        plus = f" plus `{self.flags_text}`" if self.flags_text else ""
        large = f"large `{self.large}` {self.large_steps} steps, seed {self.seed}"
        operator = (f"LiGO operator {self.operator_steps} steps (seed {self.operator_seed}, "
                    f"warm-up {self.operator_steps // 10})")
        if self.name == "figure5":
            lines = [*run_md_head("report", "`bash scripts/mini_figure5.sh` (after `make mini`, whose runs it reuses)"),
                     f"- finished: {utc_now()}; wall time {training} s (runs already finished are reused)",
                     f"- settings: `{self.config}`{plus}; {large}; scratch warm-up {self.scratch_warmup}, grown runs "
                     f"{self.grown_warmup}; layer dropping `{' '.join(self.method_flags('layer-drop'))}`; token "
                     f"dropping `{' '.join(self.method_flags('token-drop'))}`",
                     *timing_table(state)]
            write_run_md(f"{self.results}/RUN.md", lines)
            return
        command = f"`{self.env.text('MINI_COMMAND', MINIATURES[self.name].command)}`"
        if self.name == "table1" and not self.env.is_set("MINI_COMMAND"):
            command += " (set-up, scripts/run_mini.sh, then scripts/mini_table1.sh)"
        setup = ", set-up included" if self.env.is_set("MINI_STARTED") else ""
        whole = now - state["job_started"]
        lines = [*run_md_head("report", command), f"- finished: {utc_now()}",
                 f"- wall time: {whole} s for the whole job{setup}; {training} s for training and report"]
        small = f"small `{self.small}` {self.small_steps} steps (warm-up {self.small_warmup}"
        warmups = f"scratch warm-up {self.scratch_warmup} steps, grown runs {self.grown_warmup}"
        if self.name == "table1":
            lines.append(f"- settings: `{self.config}`{plus}; {small}, seed 95); {large}; {warmups}; {operator}")
            unigram = call([self.python, "-m", "ligo.report.unigram", "--config", self.config, "--scratch",
                            f"{self.runs}/scratch"], capture=True)
            lines.append(unigram.removesuffix("\n"))
        elif self.name in CAUSAL:
            lines.append(f"- settings: `{self.config}`{plus}; {small}, the config's seed); {large}; {warmups}; "
                         f"{operator}; tokenizer `{self.tokenizer}` "
                         f"({data.vocab_size(self.env)} tokens requested)"
                         + (f"; Net2Net+noise: bert2bert_fpi with `--grow_noise {self.grow_noise}`"
                            if self.grow_noise else ""))
        else:
            lines.append(f"- data: scikit-learn's `load_digits` written by `python -m ligo.data.digits --output_dir "
                         f"{self.data}` (1,437 training, 360 validation images, 10 classes, "
                         "split seed 0)")
            lines.append(f"- settings: `{self.config}` plus `{self.flags_text}`; {small}, the config's seed); "
                         f"{large}; {warmups}; {operator}")
        write_run_md(f"{self.results}/RUN.md", [*lines, *timing_table(state)])
        print(f"[mini] training and report: {training} s; whole job: {whole} s")


COMMANDS = {
    "begin": lambda mini, args: mini.begin(*take(args, flags=False)),
    "get": lambda mini, args: print(mini.get(*take(args, "VARIABLE", flags=False))),
    "flags": lambda mini, args: print(" ".join(mini.method_flags(*take(args, "METHOD", flags=False)))),
    "small": lambda mini, args: mini.train_small(*take(args, flags=False)),
    "scratch": lambda mini, args: mini.scratch(*take(args, "OUT")),
    "operator": lambda mini, args: mini.operator(*take(args, "OUT")),
    "grown": lambda mini, args: mini.grown(*take(args, "OUT", "SCHEME")),
    "mslt": lambda mini, args: mini.mslt(*take(args, "OUT")),
    "ki": lambda mini, args: mini.ki(*take(args, "OUT")),
    "report": lambda mini, args: mini.report(args),
    "run-md": lambda mini, args: mini.run_md(*take(args, flags=False)),
}


@exit_on_user_error
def main(argv: list[str] | None = None):
    def build(name: str) -> Mini:
        mini = Mini.from_env(name)
        mini.job = Job(mini.runs, name)
        return mini

    dispatch_on(argv, USAGE, MINIATURES, "a miniature", build, COMMANDS)


if __name__ == "__main__":
    main()
