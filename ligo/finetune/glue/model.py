"""The GLUE model: the pretrained encoder with a new sequence-classification head
(ligo/finetune/model.py finds and loads it)."""

from transformers import AutoModelForSequenceClassification, PreTrainedModel

from ligo.finetune.glue.tasks import GlueTask
from ligo.finetune.model import load_with_head


def load_classifier(path: str, task: GlueTask) -> tuple[PreTrainedModel, list[str]]:
    """The pretrained encoder with a new head for ``task``, and the names of the new weights."""
    problem = "regression" if task.is_regression else "single_label_classification"
    return load_with_head(path, AutoModelForSequenceClassification, "a sequence classifier",
                          num_labels=task.num_labels, problem_type=problem, ignore_mismatched_sizes=True)
