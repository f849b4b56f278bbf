"""The small pretrained model that growth starts from (--source_model_path)."""

from ligo.base.errors import UserError
from ligo.models.loading import load_model
from ligo.training import checkpoint


def load_source_model(args):
    if not args.source_model_path:
        raise UserError("--source_model_path is required to grow a model: the small pretrained model "
                        "(a checkpoint folder or a run's output_dir)")
    if len(args.source_model_path) > 1:
        raise UserError(f"--source_model_path: growing from {len(args.source_model_path)} models is not supported; "
                        "give one")
    path = checkpoint.resolve_model_path(args.source_model_path[0])
    return load_model(args.model_type, path, cache_dir=args.cache_dir)
