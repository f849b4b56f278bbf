"""FLOPs of one training step of each method against a plain step, on the paper's shapes:
BERT-Base (12L-768H, vocabulary 30522), sequences of 128, KI's teacher BERT-Small (6L-512H).

For each method: the analytical count the training loop logs (ELECTRA's conventions, what the
savings report uses), its matmul part, and the matmul FLOPs torch's FlopCounterMode measures on a
real forward and backward of the unmodified Hugging Face model, each as a ratio to a plain step.

    python -m bench --only method_flops
"""

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig, BertForMaskedLM

from ligo.data.masking import IGNORE_INDEX
from ligo.models import families
from ligo.models.bert import MATMUL_TERMS
from ligo.models.flops import BACKWARD_TO_FORWARD
from ligo.tasks.ki import KnowledgeInheritance
from ligo.tasks.lm import ModelTask
from ligo.tasks.mslt import MSLTSchedule, MSLTTask
from ligo.training.layer_drop import LayerDrop
from ligo.training.token_drop import TokenDrop

SEQ, BATCH, VOCAB = 128, 2, 30522


def config(layers: int, hidden: int) -> BertConfig:
    return BertConfig(vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=layers,
                      num_attention_heads=hidden // 64, intermediate_size=4 * hidden, max_position_embeddings=512)


def batch() -> dict:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(1000, VOCAB, (BATCH, SEQ), generator=generator)
    input_ids[:, 0], input_ids[:, -1] = 101, 102
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    masked = torch.rand(BATCH, SEQ, generator=generator) < 0.15
    masked[:, [0, -1]] = False
    labels[masked] = input_ids[masked]
    input_ids[masked] = 103
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": labels}


def matmul_share(config_, lengths: list[int], trained: list[bool] | None = None) -> int:
    """Analytical matmul FLOPs of a step on one sequence: layer l on lengths[l] tokens; with
    ``trained``, the backward only through the trained layers and the head (MSLT)."""
    def layer(n):
        terms = families.flops_breakdown(config_, n)
        return sum(terms[t] for t in MATMUL_TERMS if t.startswith("blocks.")) // config_.num_hidden_layers
    terms = families.flops_breakdown(config_, SEQ)
    head = sum(terms[t] for t in MATMUL_TERMS if t.startswith("head."))
    forward = head + sum(layer(n) for n in lengths if n)
    if trained is None:
        return (1 + BACKWARD_TO_FORWARD) * forward
    backward = head + sum(layer(n) for n, on in zip(lengths, trained) if n and on)
    # Not computed: the lowest trained layer's input gradient through q, k, v (its input is
    # frozen), the tied decoder's weight gradient (the frozen word embedding).
    skipped = terms["blocks.kqv"] // config_.num_hidden_layers + terms["head.decoder"]
    return forward + BACKWARD_TO_FORWARD * backward - skipped


def measured(task, model) -> int:
    model.train()
    with FlopCounterMode(display=False) as counter:
        task.loss(model, batch()).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() // BATCH


def run() -> list[dict]:
    torch.manual_seed(0)
    base_config = config(12, 768)
    base = BertForMaskedLM(base_config)
    rows = []

    def add(method, task, matmul, note):
        task.begin_step(step_of.get(method, 1))
        measured_flops = measured(task, task.module)
        logged = task.train_flops(1, SEQ)
        rows.append({"table": "FLOPs of one training step against a plain step (BERT-Base, 128 tokens)",
                     "method": method, "logged (analytical)": f"{logged / plain_logged:.3f}",
                     "matmul, analytical": f"{matmul / plain_matmul:.3f}",
                     "matmul, measured (FlopCounterMode)": f"{measured_flops / plain_measured:.3f}",
                     "measured / analytical matmul": f"{measured_flops / matmul:.4f}", "notes": note})

    step_of = {}
    plain = ModelTask(base)
    plain.begin_step(1)
    plain_logged = plain.train_flops(1, SEQ)
    plain_matmul = matmul_share(base_config, [SEQ] * 12)
    plain_measured = measured(plain, base)
    add("plain", plain, plain_matmul, "every layer, every token")

    drop = LayerDrop(rate=0.5, lin_decay=True, gamma=0.001, seed=95)
    step = next(s for s in range(5000, 6000) if sum(drop.plan(s, 12)) == 9)  # a step that ran 9 of 12 layers
    step_of["layer drop"] = step
    plan = drop.plan(step, 12)
    add("layer drop", ModelTask(base, layer_drop=drop),
        matmul_share(base_config, [SEQ if on else 0 for on in plan]),
        f"PLD rate 0.5, linear in depth; step {step} ran {sum(plan)} of 12 layers (expected then: "
        f"{sum(drop.keep_probabilities(step, 12)):.2f})")

    tokens = TokenDrop(0.5, 6, -1, 12, VOCAB, [0, 100, 101, 102, 103], torch.device("cpu"))
    add("token drop", ModelTask(base, token_drop=tokens),
        matmul_share(base_config, [SEQ] * 6 + [SEQ // 2] * 5 + [SEQ]),
        "half the tokens in layers 6-10 (Hou et al.: from the middle layer to the last)")

    teacher = BertForMaskedLM(config(6, 512))
    ki = KnowledgeInheritance(teacher, alpha=1.0, steps=100, temperature=2.0)
    teacher_matmul = matmul_share(teacher.config, [SEQ] * 6) // (1 + BACKWARD_TO_FORWARD)
    add("KI (teacher teaching)", ModelTask(base, inheritance=ki), plain_matmul + teacher_matmul,
        "the student's step plus BERT-Small's forward; the measured count lacks the teacher's attention matmuls "
        "(2 x 2hs a token a layer): in eval mode torch runs them in a fused CPU kernel FlopCounterMode does not count")

    for stage, (active, trained_from, note) in enumerate([(9, 6, "stage 1: 9 layers run, layers 6-8 train"),
                                                           (12, 9, "stage 2: 12 layers run, layers 9-11 train")]):
        schedule = MSLTSchedule([6, 9, 12], [10, 10], max_steps=100)
        model = BertForMaskedLM(base_config)
        task = MSLTTask(model, schedule, start_step=10 * stage, fresh=stage == 0)
        step_of[f"MSLT {note.split(':')[0]}"] = 10 * stage + 1
        lengths = [SEQ if i < active else 0 for i in range(12)]
        add(f"MSLT {note.split(':')[0]}", task,
            matmul_share(base_config, lengths, [trained_from <= i < active for i in range(12)]),
            f"{note}; embeddings and lower layers frozen")
    return rows
