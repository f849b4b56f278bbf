"""The small pretrained model that growth starts from (--source_model_path)."""

from ligo import checkpoint
from ligo.errors import UserError
from ligo.models import load_model


def resolve_model_path(path: str) -> str:
    """A model folder, or a run's output_dir (then its latest checkpoint)."""
    latest = checkpoint.latest_checkpoint(path)
    return str(latest) if latest is not None else path


def load_source_model(args):
    if not args.source_model_path:
        raise UserError(f"--source_model_path is required to grow a model: the small pretrained model "
                        f"(a checkpoint folder or a run's output_dir)")
    if len(args.source_model_path) > 1:
        raise UserError(f"--source_model_path: growing from {len(args.source_model_path)} models is not supported; "
                        "give one")
    return load_model(args.model_type, resolve_model_path(args.source_model_path[0]), cache_dir=args.cache_dir)
