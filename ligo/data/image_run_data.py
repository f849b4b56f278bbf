"""An image model's run data (``--model_type vit``): the ImageFolder splits under ``--data_path``
with DeiT's augmentations (ligo/data/images.py), checked before the first step, and how the
loop counts them (evaluation scores top-1 and top-5 on the evaluation split)."""

import contextlib
import functools
from concurrent.futures import ProcessPoolExecutor

import torch.distributed as dist
from tqdm import tqdm
from transformers import ViTImageProcessor

from ligo.base.errors import UserError
from ligo.data.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentOptions,
    ImageCollator,
    ImageFolderDataset,
    SeededMixupCollator,
    check_images,
    decode_error,
    eval_transform,
    train_transform,
)
from ligo.data.run_data import RunData
from ligo.models import vit_flops
from ligo.models.target_config import target_name

CHECK_CHUNK = 64  # images a checking process takes at a time


class SmoothedMixupCollator:
    """Mixup/CutMix soft targets with label smoothing folded in, as DeiT's (timm's) Mixup does:
    ``(1 - e) * target + e / classes``. Linear, so smoothing before or after mixing is the same."""

    def __init__(self, mix: SeededMixupCollator, smoothing: float, num_classes: int):
        self.mix, self.smoothing, self.num_classes = mix, smoothing, num_classes

    def __call__(self, examples: list[dict]) -> dict:
        batch = self.mix(examples)
        batch["labels"] = batch["labels"] * (1.0 - self.smoothing) + self.smoothing / self.num_classes
        return batch


def augment_options(args, config) -> AugmentOptions:
    if args.input_size is not None and args.input_size != config.image_size:
        raise UserError(f"--input_size {args.input_size} differs from the model's image_size {config.image_size} "
                        f"('{target_name(args)}'); leave --input_size out, or use a config with that image_size")
    return AugmentOptions(input_size=config.image_size, crop_scale_min=args.crop_scale_min, hflip=args.hflip,
                          rand_augment_ops=args.rand_augment_ops,
                          rand_augment_magnitude=args.rand_augment_magnitude, reprob=args.reprob, mixup=args.mixup,
                          cutmix=args.cutmix, mixup_switch_prob=args.mixup_switch_prob)


def check_all_images(datasets: list[ImageFolderDataset], ctx, num_workers: int):
    """Every image decoded once before training, shared out over the ranks (and over
    ``num_workers`` processes on each): a corrupt file is refused here, on every rank, rather than
    met in the middle of an epoch."""
    paths = [path for dataset in datasets for path, _ in dataset.samples]
    mine = paths[ctx.rank::ctx.world_size]
    bad = []
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(tqdm(total=len(mine), desc="checking images", unit="image",
                                       disable=not ctx.is_main))
        decode = map
        if num_workers > 0 and len(mine) > 1:
            decode = functools.partial(stack.enter_context(ProcessPoolExecutor(num_workers)).map,
                                       chunksize=CHECK_CHUNK)
        for path, reason in zip(mine, decode(decode_error, mine)):
            if reason is not None:
                bad.append((path, reason))
            bar.update()
    if ctx.world_size > 1:
        everyone = [None] * ctx.world_size
        dist.all_gather_object(everyone, bad)
        bad = [item for found in everyone for item in found]
    check_images(paths, sorted(bad))


def image_processor(options: AugmentOptions) -> ViTImageProcessor:
    """Saved beside every checkpoint, so that ``AutoImageProcessor.from_pretrained`` prepares an image
    as evaluation does (resize, centre crop, ImageNet normalisation)."""
    resize = int(options.input_size / options.eval_crop_ratio)
    return ViTImageProcessor(do_resize=True, size={"shortest_edge": resize}, resample=3,  # bicubic
                             do_center_crop=True, crop_size={"height": options.input_size, "width": options.input_size},
                             image_mean=list(IMAGENET_MEAN), image_std=list(IMAGENET_STD))


def image_run_data(args, config, ctx) -> RunData:
    options = augment_options(args, config)
    train = evaluation = None
    classes = None
    if args.do_train:
        train = ImageFolderDataset(args.data_path, args.train_split, train_transform(options), args.seed)
        classes = train.classes
    if args.do_eval:
        evaluation = ImageFolderDataset(args.data_path, args.eval_split, eval_transform(options), args.seed,
                                        classes=classes)
        classes = evaluation.classes
    if len(classes) != config.num_labels:
        raise UserError(f"'{args.data_path}' has {len(classes)} classes but the model '{target_name(args)}' predicts "
                        f"{config.num_labels}; set num_labels (and id2label) to {len(classes)} in the config")
    if args.check_images == "on":
        check_all_images([d for d in (train, evaluation) if d is not None], ctx, args.num_workers)
    sequence = vit_flops.sequence_length(config)
    mix = SeededMixupCollator(len(classes), options, args.seed)
    return RunData(
        train=train, eval=evaluation,
        collate=SmoothedMixupCollator(mix, args.smoothing, len(classes)),
        eval_collate=ImageCollator(),
        processor=image_processor(options), unit="images",
        shape=lambda batch: (batch["pixel_values"].shape[0], sequence),
        units=lambda batch: int(batch["pixel_values"].shape[0]),
    )
