"""MSLT, multi-stage layer-wise training (Yang et al., 2020: "Progressively Stacking 2.0").

Depth grows in stages, e.g. 6 -> 9 -> 12 layers (``--mslt_stages 9 12`` from a 6-layer
``--source_model_path``). A stage that adds ``n`` layers stacks copies of the model's top ``n``
layers on it and trains only the new layers and the MLM head's own weights: the embeddings and
the lower layers are frozen, so no backward pass runs through them. Stage ``k`` lasts
``--mslt_stage_steps[k]`` optimiser steps; the rest of ``--max_steps`` trains the whole model.

The model is the target-sized one from the start; a stage runs its first layers only (the rest
wait, untrained, for their stage). A stage's copy is made at its first step, from the weights the
checkpoint before it holds, so a run resumed in any stage continues exactly.

For a target wider than the source, the new width units start as in ``stackbert_direct_copy``
(the source is widened by direct copy before the stages; ligo/growth/baselines.py): the paper
does not say how MSLT meets a wider target.

FLOPs of a growth stage: the forward through the layers that run and the head, and the backward
(2 x forward) through the trained layers and the head only, less what that backward does not
compute: the lowest trained layer's input gradient through its query, key and value projections,
and, where the output embedding is tied to the frozen word embedding, the decoder's weight
gradient (bench/method_flops.py checks the count against torch's).
"""

from pathlib import Path

import torch

from ligo.base.errors import UserError
from ligo.models import families
from ligo.models.families import family_of, layout_of
from ligo.models.flops import BACKWARD_TO_FORWARD
from ligo.models.layout import ties_output_embeddings
from ligo.training import sharded_checkpoint
from ligo.training.layer_drop import RunningLayers, running_layers
from ligo.training.optim import parameter_groups
from ligo.training.sharding import Deferred


def stage_depths(args, small_layers: int, large_layers: int) -> list[int]:
    """The depth before the first stage and after each: ``[small, ..., large]``."""
    depths = [small_layers, *(args.mslt_stages or [small_layers + (large_layers - small_layers + 1) // 2,
                                                   large_layers])]
    depths = [d for i, d in enumerate(depths) if i == 0 or d != depths[i - 1]]  # 1 -> 2 layers: one stage
    if any(b <= a for a, b in zip(depths, depths[1:])) or depths[-1] != large_layers:
        raise UserError(f"--mslt_stages {' '.join(map(str, depths[1:]))}: the depths after each stage must rise from "
                        f"the source's {small_layers} layers to the target's {large_layers}, e.g. --mslt_stages "
                        f"{small_layers + (large_layers - small_layers) // 2} {large_layers}")
    for before, after in zip(depths, depths[1:]):
        if after - before > before:
            raise UserError(f"--mslt_stages: a stage from {before} to {after} layers would copy {after - before} top "
                            f"layers of a {before}-layer model; add a stage in between")
    return depths


class MSLTSchedule:
    def __init__(self, depths: list[int], stage_steps: list[int], max_steps: int):
        if len(stage_steps) != len(depths) - 1:
            raise UserError(f"--mslt_stage_steps needs one value per stage ({len(depths) - 1}: "
                            f"{' -> '.join(map(str, depths))} layers), got {len(stage_steps)}")
        if any(n < 1 for n in stage_steps):
            raise UserError(f"--mslt_stage_steps must all be at least 1, got {' '.join(map(str, stage_steps))}")
        if sum(stage_steps) > max_steps:
            raise UserError(f"--mslt_stage_steps add up to {sum(stage_steps)}, more than --max_steps {max_steps}; the "
                            "steps after the stages train the whole model")
        self.depths, self.stage_steps = depths, stage_steps
        self.ends = [sum(stage_steps[:k + 1]) for k in range(len(stage_steps))]

    def copies(self, k: int) -> dict[int, int]:
        """The layers stage ``k`` adds, each with the top layer it starts as a copy of."""
        before, after = self.depths[k], self.depths[k + 1]
        new = after - before
        return {before + offset: before - new + offset for offset in range(new)}

    def stage(self, step: int) -> int | None:
        """The growth stage (0-based) of optimiser step ``step`` (from 1), None for the whole model."""
        for k, end in enumerate(self.ends):
            if step <= end:
                return k
        return None

    def first_step(self, k: int) -> int:
        return self.ends[k - 1] + 1 if k else 1


class MSLTTask:
    """Train the stages of MSLT on the target-sized model ``model``."""

    def __init__(self, model, schedule: MSLTSchedule, start_step: int, fresh: bool, deferred: Deferred | None = None):
        """``deferred``: ``model`` is on the meta device and takes its weights (the first stage's
        copies made already where ``fresh``) once the trainer shards it."""
        self.module, self.schedule = model, schedule
        self.config = model.config
        self.family = family_of(self.config.model_type)
        self.layout = layout_of(self.config.model_type)
        self.unused_parameters = True  # layers not yet in a stage, and frozen ones, get no gradient
        self.deferred = deferred
        self.stage = schedule.stage(start_step + 1)
        if fresh and deferred is None:
            self._copy_top_layers(0)
        self._set_trained(self.stage)

    # -- stages --------------------------------------------------------------------------------

    def _copy_top_layers(self, k: int):
        """Stage ``k``'s new layers start as copies of the top layers below them."""
        layers = self.module.get_submodule(self.family.layers_path)
        for target, source in self.schedule.copies(k).items():
            layers[target].load_state_dict(layers[source].state_dict())  # copies in place (shard by shard)

    def _trained_names(self, k: int | None) -> set[str] | None:
        if k is None:
            return None  # everything
        before, after = self.schedule.depths[k], self.schedule.depths[k + 1]
        layers = self.module.get_submodule(self.family.layers_path)
        names = {f"{self.family.layers_path}.{i}.{name}" for i in range(before, after)
                 for name, _ in layers[i].named_parameters()}
        # The head's own weights (BERT's MLM transform, GPT-2's ln_f), as the layout names them
        names |= {spec.key() for spec in self.layout.head}
        if self.layout.decoder_bias is not None:
            names.add(self.layout.decoder_bias)
        if self.layout.untied_decoder(self.config):
            names.add(self.layout.decoder.name)
        return names

    def _set_trained(self, k: int | None):
        trained = self._trained_names(k)
        for name, parameter in self.module.named_parameters():
            parameter.requires_grad_(trained is None or name in trained)

    def _active(self) -> list[bool]:
        depth = self.schedule.depths[self.stage + 1] if self.stage is not None else self.config.num_hidden_layers
        return [layer < depth for layer in range(self.config.num_hidden_layers)]

    # -- the Task interface ----------------------------------------------------------------------

    def begin_step(self, step: int):
        stage = self.schedule.stage(step)
        if stage is not None and stage > 0 and step == self.schedule.first_step(stage):
            self._copy_top_layers(stage)
        if stage != self.stage:
            self.stage = stage
            self._set_trained(stage)

    def loss(self, model, batch: dict) -> torch.Tensor:
        with running_layers(self.module, self.family.layers_path, self._active()):
            return self.family.run_batch(model, batch).loss

    def parameter_groups(self, args) -> list[dict]:
        # Every parameter, frozen or not: a later stage unfreezes them.
        return parameter_groups(self.module.named_parameters(), args.weight_decay, trainable_only=False)

    def train_flops(self, batch_size: int, seq_len: int) -> int:
        layers = self.config.num_hidden_layers
        active = self._active()
        lengths = [seq_len if on else 0 for on in active]
        forward = families.forward_flops_of_layers(self.config, seq_len, lengths)
        if self.stage is None:
            return batch_size * (1 + BACKWARD_TO_FORWARD) * forward
        before, after = self.schedule.depths[self.stage], self.schedule.depths[self.stage + 1]
        trained = families.forward_flops_of_layers(
            self.config, seq_len, [seq_len if before <= i < after else 0 for i in range(layers)], outside="head")
        # What the backward does not compute: the lowest trained layer's input gradient through
        # its query, key and value projections (that input comes from frozen layers), and the tied
        # decoder's weight gradient (it is the frozen word embedding).
        terms = families.flops_breakdown(self.config, seq_len)
        skipped = terms["blocks.kqv"] // layers
        if self.layout.decoder is not None and ties_output_embeddings(self.config):
            skipped += terms["head.decoder"]
        return batch_size * (forward + BACKWARD_TO_FORWARD * trained - skipped)

    def eval_model(self):
        active = self._active()
        return self.module if all(active) else RunningLayers(self.module, self.family.layers_path, active)

    def training_objects(self) -> dict:
        return {}

    def to(self, device: torch.device):
        if self.deferred is None:  # else the trainer gives each rank's shards their memory
            self.module.to(device)

    def save(self, folder: Path):
        self.module.save_pretrained(str(folder))

    def sharding_units(self) -> list:
        return list(self.module.get_submodule(self.family.layers_path))

    def save_sharded(self, folder: Path, ctx):
        sharded_checkpoint.save_model(self.module, folder, ctx)
