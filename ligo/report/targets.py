"""Reaching the target: where a run's evaluated metric first crosses it (interpolated), at what
FLOPs, seconds and steps, and the savings against scratch, also at scratch's step time."""

import math

from ligo.base.errors import UserError
from ligo.report.runs import LOSS, Metric, Pace, Run

# FLOPs are counted analytically from the batch shape, so runs of one model shape and batch
# log the same FLOPs per step up to float rounding.
SAME_SHAPE_RTOL = 1e-6
# A same-shape run whose median step time is further than this from scratch's (relative to
# scratch's) was timed on a machine running at another speed.
SPEED_TOLERANCE = 0.10


def check_target(target: float, metric: Metric, given: bool):
    """A UserError for a target no run could sensibly reach: not finite, or an accuracy outside (0, 100]."""
    if not math.isfinite(target):
        if given:
            raise UserError(f"--target {target} is not a finite number; pass e.g. --target 81 for 81% top-1")
        raise UserError(f"the scratch run's final {metric.key} is {target}; pass the target with --target VALUE")
    if given and metric.higher_is_better and not 0 < target <= 100:
        raise UserError(f"--target {target:g} is not an accuracy in (0, 100]: {metric.key} is in percent; "
                        f"pass e.g. --target 81 for 81%")


def cost_to_target(points, target: float, higher_is_better: bool = False):
    """The costs at which a run's evaluated metric first reaches ``target``.

    ``points`` are tuples in logged order whose last item is the metric (e.g. the eval loss)
    and whose other items are cumulative costs, e.g. ``(flops, seconds, step, eval_loss)``;
    the result holds those costs. A loss reaches the target at or below it, an accuracy
    (``higher_is_better``) at or above it. At the first point that reaches it every cost is
    interpolated linearly, separately, between it and the point before (the metric crosses
    the target in between, from either side: the same fraction). A run whose first point
    already reaches the target reaches it at that point's costs (0 when the step-0
    evaluation is logged). Returns ``None`` when no point reaches the target.
    """
    for i, point in enumerate(points):
        value = point[-1]
        if value >= target if higher_is_better else value <= target:
            if i == 0:
                return tuple(point[:-1])
            prev = points[i - 1]
            frac = (prev[-1] - target) / (prev[-1] - value)
            return tuple(before + frac * (after - before) for before, after in zip(prev[:-1], point[:-1]))
    return None


def saved_pct(cost, scratch_cost):
    """Percent saved against the scratch run; None when undefined (not reached, zero cost)."""
    if cost is None or not scratch_cost:
        return None
    return 100.0 * (1.0 - cost / scratch_cost)


def same_shape(pace: Pace | None, scratch_pace: Pace | None) -> bool:
    """Whether a run has scratch's FLOPs per step, i.e. its model shape and batch."""
    if pace is None or scratch_pace is None:
        return False
    return abs(pace.flops_per_step - scratch_pace.flops_per_step) <= SAME_SHAPE_RTOL * abs(scratch_pace.flops_per_step)


def speed_changed(pace: Pace, scratch_pace: Pace) -> bool:
    """Whether a same-shape run's median or mean step time is more than SPEED_TOLERANCE from scratch's."""
    return any(abs(mine - theirs) > SPEED_TOLERANCE * theirs for mine, theirs in
               [(pace.seconds_per_step, scratch_pace.seconds_per_step),
                (pace.mean_seconds_per_step, scratch_pace.mean_seconds_per_step)])


def summarize(scratch: Run, runs: list[Run], small_cost, metric: Metric = LOSS, target=None) -> tuple:
    """The target (``target``, else scratch's final value of the metric) and one dict per
    method (scratch first) with the values of the CSV's columns (``tables.COLUMNS``) and ``reached``.

    A ``target`` scratch never reaches leaves every saving undefined (None): there is no
    scratch cost to compare with; the costs to target of the runs that reach it are kept."""
    target = scratch.points[-1][-1] if target is None else target
    scratch_reach = cost_to_target(scratch.points, target, metric.higher_is_better)
    scratch_flops, scratch_seconds, scratch_steps = scratch_reach or (None, None, None)
    scratch_step = scratch.pace.seconds_per_step if scratch.pace else None
    # Scratch's own steps at its own median step time: the same estimate as the runs', so that
    # a same-shape run's saving at scratch's step time equals its FLOPs saving.
    scratch_at_speed = scratch_steps * scratch_step if scratch_reach and scratch_step is not None else None
    rows = []
    for run in [scratch, *runs]:
        reach = cost_to_target(run.points, target, metric.higher_is_better)
        op_flops, op_seconds = run.operator or (0, 0)
        flops, seconds = (reach[0] + op_flops, reach[1] + op_seconds) if reach else (None, None)
        shaped = same_shape(run.pace, scratch.pace)
        # The operator has another shape than scratch: its own measured seconds are all there is.
        at_speed = reach[2] * scratch_step + op_seconds if reach and shaped else None
        is_grown = run is not scratch and run.uses_small
        rows.append({
            "method": run.name,
            "flops_to_target": flops,
            "flops_saved_pct": saved_pct(flops, scratch_flops),
            "seconds_to_target": seconds,
            "time_saved_pct": saved_pct(seconds, scratch_seconds),
            "final_eval_loss": run.final_loss,
            "operator_flops": run.operator[0] if run.operator else None,
            "operator_seconds": run.operator[1] if run.operator else None,
            "small_flops": small_cost[0] if small_cost and is_grown else None,
            "small_seconds": small_cost[1] if small_cost and is_grown else None,
            "steps_to_target": reach[2] if reach else None,
            "seconds_to_target_at_scratch_speed": at_speed,
            "time_saved_at_scratch_speed_pct": saved_pct(at_speed, scratch_at_speed),
            "median_step_seconds": run.pace.seconds_per_step if run.pace else None,
            "operator_median_step_seconds": run.operator_pace.seconds_per_step if run.operator_pace else None,
            "same_shape_as_scratch": shaped,
            "mean_step_seconds": run.pace.mean_seconds_per_step if run.pace else None,
            "speed_changed": shaped and speed_changed(run.pace, scratch.pace),
            "final_metric": run.points[-1][-1],
            "metric": metric.key,
            "reached": reach is not None,
        })
    return target, rows
