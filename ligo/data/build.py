"""The run data of a training run, by its family's objective: text or images."""

from ligo.data.run_data import RunData
from ligo.data.text_run_data import text_run_data
from ligo.models.families import family_of


def build_run_data(args, config, ctx) -> RunData:
    """The run's data; ``args.block_size`` is resolved (language models) on the way."""
    if family_of(args.model_type).objective == "image":
        from ligo.data.image_run_data import image_run_data  # torchvision only where images are trained

        return image_run_data(args, config, ctx)
    return text_run_data(args, config)
