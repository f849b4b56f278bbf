"""The report's figures: the target's metric against training FLOPs and against wall-clock seconds."""

from ligo.report.runs import LOSS, Metric, Run


def plot(path, runs: list[Run], target, axis: int, xlabel: str, metric: Metric = LOSS):
    """The metric (eval loss, or accuracy) against cumulative cost (axis 0: FLOPs, 1: seconds),
    grown runs shifted by their operator's cost, with the target as a horizontal line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        shift = run.operator[axis] if run.operator else 0
        ax.plot([p[axis] + shift for p in run.points], [p[-1] for p in run.points], marker=".", label=run.name)
    label = f"target {target:.2f}%" if metric.higher_is_better else f"target {target:.3f}"
    ax.axhline(target, color="gray", linestyle="--", linewidth=1, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric.name} (%)" if metric.higher_is_better else metric.name)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
