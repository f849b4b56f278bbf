"""GLUE's official metrics, from scikit-learn and scipy, as fractions (not percentages).

F1 is that of the positive class (label id 1: MRPC paraphrase, QQP duplicate). A
correlation with constant predictions is undefined; it counts as 0.0, the value
scikit-learn's Matthews correlation gives for the same case, so a collapsed model scores
0 rather than NaN in the table.
"""

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef


def accuracy(predictions, labels) -> float:
    return float(accuracy_score(labels, predictions))


def f1(predictions, labels) -> float:
    return float(f1_score(labels, predictions, pos_label=1, zero_division=0.0))


def matthews(predictions, labels) -> float:
    return float(matthews_corrcoef(labels, predictions))


def _constant(values) -> bool:
    return np.ptp(np.asarray(values, dtype=np.float64)) == 0


def pearson(predictions, labels) -> float:
    return 0.0 if _constant(predictions) or _constant(labels) else float(pearsonr(predictions, labels).statistic)


def spearman(predictions, labels) -> float:
    return 0.0 if _constant(predictions) or _constant(labels) else float(spearmanr(predictions, labels).statistic)


METRICS = {"acc": accuracy, "f1": f1, "mcc": matthews, "pearson": pearson, "spearman": spearman}


def compute_metrics(names, predictions, labels) -> dict[str, float]:
    return {name: METRICS[name](predictions, labels) for name in names}
