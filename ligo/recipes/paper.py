"""The paper-scale recipes (scripts/paper/): their settings, runs, reports and fine-tuning."""

import os

from ligo.base.errors import UserError, exit_on_user_error
from ligo.recipes.runner import Environment, call, dispatch_on, take, train, training_command

USAGE = """usage: python -m ligo.recipes.paper FAMILY COMMAND [ARGS...]

FAMILY: bert, roberta, gpt2, vit or llama. Every command prints the command it runs; a finished
run is skipped, an interrupted one resumed. NAME, SMALL and OPERATOR are runs in RUNS; SIZE names
the model config MODEL_CONFIGS/FAMILY-SIZE.json.
  settings                                  check the batch arithmetic and print it
  get VARIABLE                              print a setting, e.g. RUNS
  flags layer-drop|token-drop               print the flags of Figure 5's layer or token dropping
  pretrain NAME SIZE                        a model from scratch
  scratch NAME SIZE [FLAGS...]              as pretrain, with FLAGS
  grow NAME SMALL SIZE SCHEME               grown from SMALL by SCHEME, then trained (GROWN_WARMUP)
  ligo NAME SMALL SIZE STEPS [FLAGS...]     a LiGO operator of STEPS steps (NAME-operator), then the grown model
  ligo-grown NAME SMALL SIZE OPERATOR [FLAGS...]  grown from SMALL by a trained operator, then trained
  mslt NAME SMALL SIZE [FLAGS...]           MSLT: two stages of MSLT_STAGE_STEPS, then the whole model
  ki NAME SMALL SIZE [FLAGS...]             KI: from scratch, taught by SMALL
  report REPORT SCRATCH SMALL [ARGS...]     python -m ligo.report into RESULTS/REPORT
  finetune REPORT METHOD NAME               GLUE (with GLUE_DIR) and SQuAD (with SQUAD_DIR) of NAME's final
                                            model, METHOD's row of RESULTS/REPORT/glue_table.md

Settings (environment; defaults for bert and roberta, gpt2, vit, llama):
  RUNS, RESULTS       where runs and reports go                        (runs/paper, results/paper)
  STEPS               steps of every large model and the small one     (400000; 100000; 375300; 100000)
  GLOBAL_BATCH        sequences per optimizer step over all GPUs       (256; 384; 1024; 1024)
  PER_GPU             sequences per GPU per micro-batch                (64; 16; 128; 4)
  GPUS                GPUs on this node                                (all that torch sees)
  GROWN_WARMUP        warm-up of grown models               (0; roberta 10000; vit WARMUP_STEPS; llama 3000)
  WARMUP_STEPS        vit: every run's warm-up (5 epochs)              (6255)
  OPERATOR_STEPS      LiGO operator steps of the main runs             (100)
  OPERATOR_STEPS_LIST operator_steps.sh's other operator lengths       ("500 1000 10000")
  MSLT_STAGE_STEPS    steps of each MSLT stage                         (10% of STEPS)
  PAPER_CONFIG        the recipe      (configs/FAMILY_wiki.txt; gpt2: configs/gpt2_paper.txt;
                                       vit: configs/vit_imagenet.txt; llama: configs/llama_paper.txt)
  MODEL_CONFIGS       folder of the model configs                      (configs)
  PAPER_FLAGS         extra flags of every training run, e.g. another corpus (vit: after --data_path DATA_PATH)
  DATA_PATH           vit: ImageNet as an ImageFolder tree             (data/imagenet)
  GLUE_DIR, SQUAD_DIR fine-tune every final model on them when set; GLUE_ARGS, SQUAD_ARGS: their extra flags
  LAYER_DROP_GAMMA, TOKEN_DROP_START  Figure 5's PLD gamma (0.001) and first token-dropping layer (6)
  TARGET_TOP1         vit: the report's top-1 target                   (81)
  PYTHON              interpreter                                      (python)"""

# Each family's STEPS, GLOBAL_BATCH and PER_GPU: the paper's 400K steps of 256 sequences; GPT-2's
# Figure 3c, batches of 384; DeiT's 300 epochs of 1,251 steps of 1024 images. Llama, not in the
# paper: G_stack's batch (Du et al., NeurIPS 2024: global_batch_size 1024 in their released scripts,
# github.com/tongxuluo/prts, as TinyLlama's), 1024 sequences of 2048 tokens, 2M tokens a step; 100K
# steps (210B tokens) is our choice, a third of their scripts' 300K; so are 4 sequences a GPU (their
# 24-layer runs had 8, sharded by FSDP; here each GPU holds the whole model and its optimizer).
FAMILIES = {"bert": (400000, 256, 64), "roberta": (400000, 256, 64), "gpt2": (100000, 384, 16),
            "vit": (375300, 1024, 128), "llama": (100000, 1024, 4)}
# The recipe (PAPER_CONFIG) of a family whose file is not configs/FAMILY_wiki.txt.
RECIPES = {"gpt2": "configs/gpt2_paper.txt", "vit": "configs/vit_imagenet.txt", "llama": "configs/llama_paper.txt"}


class Paper:
    """One family's settings, read once from the environment, and its runs."""

    def __init__(self, family: str, env: Environment):
        self.family, self.env = family, env
        steps, global_batch, per_gpu = FAMILIES[family]
        self.python = env.python()
        self.runs, self.results = env.text("RUNS", "runs/paper"), env.text("RESULTS", "results/paper")
        self.steps = env.number("STEPS", steps, 1)
        self.global_batch = env.number("GLOBAL_BATCH", global_batch, 1)
        self.per_gpu = env.number("PER_GPU", per_gpu, 1)
        self.config = env.text("PAPER_CONFIG", RECIPES.get(family, f"configs/{family}_wiki.txt"))
        # Image models have their own entry script (the same loop and flags).
        self.entry = "run_image_distributed.py" if family == "vit" else "run_lm_distributed.py"
        self.model_configs = env.text("MODEL_CONFIGS", "configs")
        self.operator_steps = env.number("OPERATOR_STEPS", 100, 1)
        self.operator_steps_list = env.numbers("OPERATOR_STEPS_LIST", "500 1000 10000")
        self.mslt_stage_steps = env.number("MSLT_STAGE_STEPS", max(self.steps // 10, 1), 1)
        # DeiT's recipe for every run, grown ones included: 5 warm-up epochs.
        self.warmup_steps = env.number("WARMUP_STEPS", 6255) if family == "vit" else None
        # The authors' warm-up after growth: none for BERT (and GPT-2, whose code they did not
        # release), 10000 steps for RoBERTa; Llama: G_stack's 3000 (their grown model's, as their scratch one's).
        self.grown_warmup = env.number("GROWN_WARMUP", {"roberta": 10000, "vit": self.warmup_steps,
                                                        "llama": 3000}.get(family, 0))
        self.flags_text = env.text("PAPER_FLAGS")  # every training run's extra flags
        if family == "vit":
            data = f"--data_path {env.text('DATA_PATH', 'data/imagenet')}"
            self.flags_text = f"{data} {self.flags_text}" if self.flags_text else data
        # Every setting by its environment variable, for `get`.
        self.variables = {"RUNS": self.runs, "RESULTS": self.results, "STEPS": str(self.steps),
                          "GLOBAL_BATCH": str(self.global_batch), "PER_GPU": str(self.per_gpu),
                          "PAPER_CONFIG": self.config, "MODEL_CONFIGS": self.model_configs,
                          "OPERATOR_STEPS": str(self.operator_steps),
                          "OPERATOR_STEPS_LIST": " ".join(map(str, self.operator_steps_list)),
                          "MSLT_STAGE_STEPS": str(self.mslt_stage_steps), "GROWN_WARMUP": str(self.grown_warmup),
                          "PAPER_FLAGS": self.flags_text, "TARGET_TOP1": env.text("TARGET_TOP1", "81"),
                          "LAYER_DROP_GAMMA": env.text("LAYER_DROP_GAMMA", "0.001"),
                          "TOKEN_DROP_START": env.text("TOKEN_DROP_START", "6")}
        if self.warmup_steps is not None:
            self.variables["WARMUP_STEPS"] = str(self.warmup_steps)

    def get(self, variable: str) -> str:
        if variable == "GPUS":
            return str(self.gpus())
        if variable not in self.variables:
            raise UserError(f"{variable} is not a setting of the paper recipes; use one of: "
                            f"{', '.join(sorted([*self.variables, 'GPUS']))}")
        return self.variables[variable]

    def gpus(self) -> int:
        if self.env.is_set("GPUS"):
            return self.env.number("GPUS", 1, 1)
        import torch  # only when GPUS is not given: loading it takes seconds

        return max(torch.cuda.device_count(), 1)

    def accumulation(self) -> int:
        """Micro-batches per step, so that the batch stays GLOBAL_BATCH on any number of GPUs."""
        gpus = self.gpus()
        if self.global_batch % (self.per_gpu * gpus):
            raise UserError(f"GLOBAL_BATCH={self.global_batch} is not a multiple of PER_GPU={self.per_gpu} x "
                            f"GPUS={gpus}; change PER_GPU")
        return self.global_batch // (self.per_gpu * gpus)

    def settings(self):
        accumulation = self.accumulation()
        print(f"[paper] {self.family}, {self.gpus()} GPU(s) x {self.per_gpu} sequences x {accumulation} accumulation "
              f"= {self.global_batch} a step, {self.steps} steps")

    def method_flags(self, method: str) -> list[str]:
        if method == "layer-drop":  # PLD's theta_bar 0.5, falling with depth
            return ["--layer_drop", "--layer_drop_rate", "0.5", "--layer_drop_lin_decay", "--layer_drop_gamma",
                    self.variables["LAYER_DROP_GAMMA"]]
        if method == "token-drop":  # half the tokens from the middle layer (Hou et al.) to the last
            return ["--token_drop", "--token_drop_rate", "0.5", "--token_drop_start",
                    self.variables["TOKEN_DROP_START"], "--token_drop_end", "-1"]
        raise UserError(f"'{method}' has no flags here; use layer-drop or token-drop")

    def train(self, name: str, steps: int, entry: str, flags: list[str]):
        out = f"{self.runs}/{name}"
        batch = ["--per_gpu_train_batch_size", str(self.per_gpu), "--gradient_accumulation_steps",
                 str(self.accumulation())]
        train(out, steps, training_command(self.python, entry, self.config, out, steps, batch=batch,
                                           flags=[*self.flags_text.split(), *flags]), "paper")

    def model(self, size: str) -> list[str]:
        return ["--config_name", f"{self.model_configs}/{self.family}-{size}.json"]

    def grown(self, name: str, small: str, size: str, scheme: str, flags: list[str]):
        self.train(name, self.steps, self.entry, [*self.model(size), "--seed", "17", "--grow_scheme", scheme,
                                                   "--source_model_path", f"{self.runs}/{small}", *flags])

    def scratch(self, name: str, size: str, flags: list[str]):
        self.train(name, self.steps, self.entry, [*self.model(size), *flags])

    def grow(self, name: str, small: str, size: str, scheme: str):
        # As the authors' growth commands: trained like scratch, with GROWN_WARMUP warm-up steps.
        self.grown(name, small, size, scheme, ["--warmup_steps", str(self.grown_warmup)])

    def ligo(self, name: str, small: str, size: str, steps: str, flags: list[str]):
        steps = int(steps) if steps.isdigit() and int(steps) > 0 else None
        if steps is None:
            raise UserError(f"ligo {name}: the operator's steps must be a whole number of at least 1")
        self.train(f"{name}-operator", steps, "run_grow_distributed.py", [
            *self.model(size), "--source_model_path", f"{self.runs}/{small}", "--fuse_init_scheme", "stackbert_noisy",
            "rand", "--seed", "29", "--logging_steps", str(min(steps, 100)), "--ckpt_steps", str(steps), *flags])
        self.ligo_grown(name, small, size, f"{name}-operator", [])

    def ligo_grown(self, name: str, small: str, size: str, operator: str, flags: list[str]):
        self.grown(name, small, size, "ligo", ["--pretrained_ligo_path", f"{self.runs}/{operator}",
                                               "--warmup_steps", str(self.grown_warmup), *flags])

    def mslt(self, name: str, small: str, size: str, flags: list[str]):
        # Halfway, then the target's depth (6 -> 9 -> 12), each stage MSLT_STAGE_STEPS; then the whole model.
        # FLAGS may name the two stages' depths otherwise (--mslt_stages 12 24: 6 -> 12 -> 24, no stage
        # adding more layers than the model has).
        stage = str(self.mslt_stage_steps)
        self.grown(name, small, size, "mslt", ["--mslt_stage_steps", stage, stage, "--warmup_steps",
                                               str(self.grown_warmup), *flags])

    def ki(self, name: str, small: str, size: str, flags: list[str]):
        # The recipe's warm-up; SMALL teaches for the first 55/125 of the steps at temperature 2.
        self.grown(name, small, size, "ki", flags)

    def report(self, name: str, scratch: str, small: str, args: list[str]):
        call([self.python, "-m", "ligo.report", "--scratch", f"{self.runs}/{scratch}", "--small",
              f"{self.runs}/{small}", "--output_dir", f"{self.results}/{name}", *args])

    def finetune(self, report: str, method: str, name: str):
        run, table = f"{self.runs}/{name}", f"{self.results}/{report}/glue_table.md"
        for task, script, results, data in (("GLUE", "run_glue.py", "glue_results.json", "GLUE_DIR"),
                                            ("SQuAD", "run_squad.py", "squad_results.json", "SQUAD_DIR")):
            if not self.env.is_set(data):
                print(f"[paper] {data} is not set: skipping {task} for {method}", flush=True)
                continue
            out = f"{self.results}/{task.lower()}/{os.path.basename(run.rstrip('/'))}"
            if os.path.isfile(f"{out}/{results}"):
                print(f"[paper] {task} for {run} is done ({out})", flush=True)
                continue
            call([self.python, script, "--model_name_or_path", run, f"--{task.lower()}_dir", self.env.text(data),
                  "--output_dir", out, "--results_table", table, "--name", method,
                  *self.env.text(f"{task.upper()}_ARGS").split()])


# Each command: its arguments (take) handed to the method of the same name.
COMMANDS = {
    "settings": lambda paper, args: paper.settings(*take(args, flags=False)),
    "get": lambda paper, args: print(paper.get(*take(args, "VARIABLE", flags=False))),
    "flags": lambda paper, args: print(" ".join(paper.method_flags(*take(args, "METHOD", flags=False)))),
    "pretrain": lambda paper, args: paper.scratch(*take(args, "NAME", "SIZE", flags=False), []),
    "scratch": lambda paper, args: paper.scratch(*take(args, "NAME", "SIZE")),
    "grow": lambda paper, args: paper.grow(*take(args, "NAME", "SMALL", "SIZE", "SCHEME", flags=False)),
    "ligo": lambda paper, args: paper.ligo(*take(args, "NAME", "SMALL", "SIZE", "STEPS")),
    "ligo-grown": lambda paper, args: paper.ligo_grown(*take(args, "NAME", "SMALL", "SIZE", "OPERATOR")),
    "mslt": lambda paper, args: paper.mslt(*take(args, "NAME", "SMALL", "SIZE")),
    "ki": lambda paper, args: paper.ki(*take(args, "NAME", "SMALL", "SIZE")),
    "report": lambda paper, args: paper.report(*take(args, "REPORT", "SCRATCH", "SMALL")),
    "finetune": lambda paper, args: paper.finetune(*take(args, "REPORT", "METHOD", "NAME", flags=False)),
}


@exit_on_user_error
def main(argv: list[str] | None = None):
    dispatch_on(argv, USAGE, FAMILIES, "a model family", lambda family: Paper(family, Environment()), COMMANDS,
                hint_without_name="no model family given: set FAMILY to bert or roberta, or run "
                                  "scripts/paper/bert_small_to_base.sh or roberta_small_to_base.sh")


if __name__ == "__main__":
    main()
