"""Knowledge Inheritance (Qin et al., NAACL 2022): the large model trains from scratch, taught
by the small pretrained one at first.

The loss of step ``t`` is ``(1 - a_t) * MLM + a_t * T^2 * KL(teacher_T || student_T)``, the KL
divergence between the teacher's and the student's predictions at temperature ``T``, averaged
over the masked positions (an image classifier: over the images, its class predictions; the
first term is then its classification loss). ``a_t`` falls linearly from ``--ki_alpha`` (at the first step) to 0
at step ``--ki_steps`` (KI's authors: the first 55k of 125k updates, T = 2) and stays 0. The
teacher, frozen and in eval mode, sees the same batch; its forward passes are counted in the
FLOPs (they are why the paper measures KI at -5.7%). It is no part of the trained module: DDP,
the optimiser and the checkpoints hold the student only; a resumed run reloads the teacher
from ``--source_model_path``.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ligo.data.masking import IGNORE_INDEX
from ligo.models import families

KI_SHARE_OF_STEPS = 55 / 125  # KI's authors' schedule, when --ki_steps is not given


class KnowledgeInheritance:
    def __init__(self, teacher: nn.Module, alpha: float, steps: int, temperature: float):
        self.teacher, self.alpha, self.steps, self.temperature = teacher, alpha, steps, temperature
        teacher.eval()
        teacher.requires_grad_(False)

    @classmethod
    def from_args(cls, args, teacher: nn.Module) -> "KnowledgeInheritance":
        """Its flags, already checked (ligo/tasks/arguments.py)."""
        steps = args.ki_steps if args.ki_steps is not None else max(1, round(args.max_steps * KI_SHARE_OF_STEPS))
        return cls(teacher, args.ki_alpha, steps, args.ki_temperature)

    def weight(self, step: int) -> float:
        """``a_t`` of optimiser step ``step`` (from 1)."""
        return self.alpha * max(0.0, 1.0 - (step - 1) / self.steps)

    def loss(self, output, batch: dict, step: int) -> torch.Tensor:
        weight = self.weight(step)
        if weight == 0.0:
            return output.loss
        with torch.no_grad():
            if "pixel_values" in batch:  # an image classifier: one prediction an image
                teacher_logits = self.teacher(pixel_values=batch["pixel_values"]).logits
            else:
                teacher_logits = self.teacher(input_ids=batch["input_ids"],
                                              attention_mask=batch["attention_mask"]).logits
        if "pixel_values" in batch:
            student_logits = output.logits
        else:  # the masked positions
            masked = batch["labels"] != IGNORE_INDEX
            student_logits, teacher_logits = output.logits[masked], teacher_logits[masked]
        temperature = self.temperature
        student = F.log_softmax(student_logits.float() / temperature, dim=-1)
        teacher = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
        kl = F.kl_div(student, teacher, log_target=True, reduction="batchmean")
        return (1.0 - weight) * output.loss + weight * temperature**2 * kl

    def forward_flops(self, seq_len: int, step: int) -> int:
        """The teacher's forward of one sequence, in the steps that run it."""
        return families.forward_flops(self.teacher.config, seq_len) if self.weight(step) > 0 else 0
