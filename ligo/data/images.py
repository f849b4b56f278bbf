"""Image classification data for ViT/DeiT (the paper's Table 2: DeiT-S -> DeiT-B on ImageNet).

An ImageNet-style folder ``root/<split>/<class>/<images>`` is read as torchvision's ImageFolder
reads it (same extensions, classes sorted, images converted to RGB), through DeiT's augmentation
recipe built from torchvision.transforms.v2.

What we add is the seeding, as ligo/data/masking.py does for masks: items are fetched by a *key*
(``dataset[key]`` is image ``key % len(dataset)``; the sampler passes ``epoch * len + index``), and
every random draw of an image's augmentation comes from a generator seeded by (seed, key); the
mixup/cutmix draw of a batch from one seeded by (seed, the batch's keys). An image therefore looks
the same whatever the DataLoader worker, the number of ranks or a resume, and differs from epoch
to epoch.

The v2 transforms used here (RandomResizedCrop, RandomHorizontalFlip, RandAugment, RandomErasing,
MixUp, CutMix, RandomChoice, and torch.distributions.Beta behind MixUp/CutMix) draw only from
torch's global CPU generator: none uses Python's ``random`` or numpy, and PIL's operations are
deterministic. So seeding that one generator, inside ``torch.random.fork_rng`` so that the
caller's stream (dropout, restored exactly on resume) is left as it was, covers every draw.

Where torchvision differs from DeiT's timm recipe (``rand-m9-mstd0.5-inc1``, timm's Mixup):
RandAugment is torchvision's, the paper's original: a fixed magnitude, every op applied (timm
adds magnitude noise of std 0.5, applies each op with probability 0.5 and uses "increasing"
variants of some ops); MixUp/CutMix pair each image with its neighbour in the batch (``roll``)
where timm pairs it with its mirror (``flip``). Random erasing with ``value="random"`` is timm's
``mode="pixel"``: per-pixel standard normal noise, in normalised space, same scale and ratio.
"""

from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset, pil_loader
from torchvision.transforms import v2

from ligo.base.errors import UserError
from ligo.data.masking import example_seed

# timm's IMAGENET_DEFAULT_MEAN / _STD, which DeiT normalises with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = IMG_EXTENSIONS

# The mixup/cutmix stream of a batch, kept apart from the augmentation streams of its images
# (SeedSequence's spawn_key separates streams with the same entropy).
_MIX_STREAM = 1
_SHOWN_BAD_FILES = 5


@dataclass(frozen=True)
class AugmentOptions:
    """DeiT's defaults (its main.py). ``color_jitter`` is kept for the record but unused: DeiT passes
    0.3, and timm drops colour jitter whenever RandAugment is on, as it is in DeiT's recipe."""

    input_size: int = 224
    crop_scale_min: float = 0.08  # RandomResizedCrop's smallest share of the image (timm's --scale 0.08 1)
    hflip: float = 0.5  # horizontal flip probability (timm's --hflip)
    color_jitter: float = 0.3
    rand_augment_ops: int = 2
    rand_augment_magnitude: int = 9
    reprob: float = 0.25  # random erasing probability
    mixup: float = 0.8  # mixup's Beta alpha (0: off)
    cutmix: float = 1.0  # cutmix's Beta alpha (0: off)
    mixup_switch_prob: float = 0.5  # both on: the chance that a batch gets cutmix rather than mixup
    eval_crop_ratio: float = 0.875

    def __post_init__(self):
        def refuse(name, rule):
            raise UserError(f"--{name} {getattr(self, name)} is out of range: it must be {rule}")

        if self.input_size < 1:
            refuse("input_size", "at least 1 (pixels of the square model input; DeiT: 224)")
        if self.rand_augment_ops < 0:
            refuse("rand_augment_ops", "at least 0 (0: no RandAugment; DeiT: 2)")
        if not 0 <= self.rand_augment_magnitude <= 30:
            refuse("rand_augment_magnitude", "between 0 and 30 (torchvision's 31 bins; DeiT: 9)")
        if not 0.0 < self.crop_scale_min <= 1.0:
            refuse("crop_scale_min", "in (0, 1] (the smallest crop's share of the image; DeiT: 0.08)")
        for name in ("reprob", "mixup_switch_prob", "hflip"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                refuse(name, "a probability between 0 and 1")
        for name in ("mixup", "cutmix"):
            if getattr(self, name) < 0:
                refuse(name, "at least 0 (a Beta alpha; 0 turns it off)")
        if not 0.0 < self.eval_crop_ratio <= 1.0:
            refuse("eval_crop_ratio", "in (0, 1] (the centre crop's share of the resized image; DeiT: 0.875)")


def scan_image_folder(root: Path, split: str) -> tuple[list[str], list[tuple[str, int]]]:
    """ImageNet layout ``root/<split>/<class>/<images>``: (sorted class names, [(path, class index)]).

    Files with other extensions than IMAGE_EXTENSIONS are ignored, as torchvision's ImageFolder
    ignores them; a class folder with none of those is refused."""
    root = Path(root)
    folder = root / split
    if not root.is_dir():
        raise UserError(f"image folder '{root}' does not exist; give the folder that holds {split}/<class>/<images>")
    if not folder.is_dir():
        present = sorted(entry.name for entry in root.iterdir() if entry.is_dir())
        raise UserError(f"'{root}' has no '{split}' folder (found: {', '.join(present) or 'no folder'}); "
                        f"images are read from {root}/{split}/<class>/<images>")
    try:
        classes, class_to_idx = find_classes(folder)
    except FileNotFoundError:
        raise UserError(f"'{folder}' holds no class folder; put each class's images in "
                        f"{folder}/<class>/ (ImageNet layout)") from None
    samples = make_dataset(folder, class_to_idx, extensions=IMAGE_EXTENSIONS, allow_empty=True)
    empty = sorted(set(classes) - {classes[label] for _, label in samples})
    if empty:
        shown = ", ".join(f"'{folder / name}'" for name in empty[:_SHOWN_BAD_FILES])
        more = f" and {len(empty) - _SHOWN_BAD_FILES} more" if len(empty) > _SHOWN_BAD_FILES else ""
        raise UserError(f"{len(empty)} class folder(s) hold no image: {shown}{more}; images are files ending in "
                        f"{' '.join(IMAGE_EXTENSIONS)} (any case); add images or remove the folder")
    return classes, samples


def decode_error(path: str) -> str | None:
    """Why PIL cannot fully decode ``path``, or None. Image.verify() alone misses truncated data:
    convert() decodes every pixel."""
    try:
        with Image.open(path) as image:
            image.convert("RGB")
    except Exception as err:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError...
        return f"{type(err).__name__}: {err}"
    return None


def unreadable_images(paths: list[str], num_workers: int = 0) -> list[tuple[str, str]]:
    """(path, reason) for each image PIL cannot open and fully decode, in the order given.

    Run before training to refuse a corrupt file rather than crash mid-epoch. ``num_workers`` > 0
    decodes in that many processes (ImageNet's 1.28M images take hours in one)."""
    if num_workers > 0:
        with ProcessPoolExecutor(num_workers) as pool:
            reasons = list(pool.map(decode_error, paths, chunksize=256))
    else:
        reasons = [decode_error(path) for path in paths]
    return [(str(path), reason) for path, reason in zip(paths, reasons) if reason is not None]


def check_images(paths: list[str], bad: list[tuple[str, str]] | None = None) -> None:
    """Refuse the images ``bad`` (from unreadable_images; found here when None) among ``paths``."""
    if bad is None:
        bad = unreadable_images(paths)
    if not bad:
        return
    shown = "; ".join(f"'{path}' ({reason})" for path, reason in bad[:_SHOWN_BAD_FILES])
    more = f"; and {len(bad) - _SHOWN_BAD_FILES} more" if len(bad) > _SHOWN_BAD_FILES else ""
    raise UserError(f"{len(bad)} of {len(paths)} image(s) cannot be decoded: {shown}{more}; "
                    "remove or replace them")


def train_transform(options: AugmentOptions) -> v2.Compose:
    """DeiT's training augmentation of a PIL image: a float32 [3, input_size, input_size] tensor."""
    size = options.input_size
    steps = [v2.RandomResizedCrop(size, scale=(options.crop_scale_min, 1.0), interpolation=v2.InterpolationMode.BICUBIC,
                                  antialias=True)]
    if options.hflip > 0:
        steps.append(v2.RandomHorizontalFlip(options.hflip))
    if options.rand_augment_ops > 0:
        # timm fills the area a shear/rotation/translation uncovers with the mean colour.
        fill = [round(255 * mean) for mean in IMAGENET_MEAN]
        steps.append(v2.RandAugment(options.rand_augment_ops, options.rand_augment_magnitude,
                                    interpolation=v2.InterpolationMode.BICUBIC, fill=fill))
    steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if options.reprob > 0:
        # value="random": per-pixel normal noise, timm's mode="pixel" (DeiT's --remode), after Normalize.
        steps.append(v2.RandomErasing(p=options.reprob, value="random"))
    return v2.Compose(steps)


def eval_transform(options: AugmentOptions) -> v2.Compose:
    """DeiT's evaluation: resize the short side to input_size / eval_crop_ratio, centre crop (no draw)."""
    return v2.Compose([
        v2.Resize(int(options.input_size / options.eval_crop_ratio), interpolation=v2.InterpolationMode.BICUBIC,
                  antialias=True),
        v2.CenterCrop(options.input_size),
        v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


@contextmanager
def _seeded_cpu_rng(seed: int):
    """Torch's global CPU generator, seeded, for the block; restored after. torch.manual_seed would
    also reseed CUDA's generators, which fork_rng(devices=[]) does not restore: seed the CPU one only."""
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        yield


class ImageFolderDataset(Dataset):
    """Images of ``root/<split>``, transformed with draws seeded by (seed, key)."""

    def __init__(self, root: Path, split: str, transform, seed: int, classes: list[str] | None = None):
        """``classes``: when given (the training split's), this split must have exactly these class folders."""
        found, self.samples = scan_image_folder(root, split)
        if classes is not None and found != list(classes):
            missing = sorted(set(classes) - set(found))
            extra = sorted(set(found) - set(classes))
            parts = [f"{what} {', '.join(names)}" for what, names in (("missing", missing), ("extra", extra)) if names]
            raise UserError(f"'{Path(root) / split}' has other class folders than the training split "
                            f"({'; '.join(parts) or 'in another order'}); every split needs the same class folders, "
                            "which name the same classes")
        self.classes = found
        self.transform = transform
        self.seed = seed

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: int) -> dict:
        path, label = self.samples[key % len(self.samples)]
        image = pil_loader(path)  # RGB, whatever the file's mode (grayscale, palette, RGBA)
        with _seeded_cpu_rng(example_seed(self.seed, key)):
            pixel_values = self.transform(image)
        return {"pixel_values": pixel_values.as_subclass(torch.Tensor),
                "labels": torch.tensor(label, dtype=torch.int64), "sample_key": int(key)}


class SeededMixupCollator:
    """A training batch with DeiT's mixup/cutmix: soft labels float32 [B, num_classes], rows summing to 1.

    Label smoothing is not applied here: ligo/data/image_run_data.py folds it into these targets,
    (1 - e) * target + e / num_classes, which is what timm's Mixup gets by smoothing the one-hot
    labels before mixing them (mixing is linear, and rows sum to 1)."""

    def __init__(self, num_classes: int, options: AugmentOptions, seed: int):
        self.num_classes = num_classes
        self.seed = seed
        mixers = []
        if options.mixup > 0:
            mixers.append((v2.MixUp(alpha=options.mixup, num_classes=num_classes), 1.0 - options.mixup_switch_prob))
        if options.cutmix > 0:
            mixers.append((v2.CutMix(alpha=options.cutmix, num_classes=num_classes), options.mixup_switch_prob))
        if len(mixers) == 2:
            self.mix = v2.RandomChoice([mixer for mixer, _ in mixers], p=[p for _, p in mixers])
        else:
            self.mix = mixers[0][0] if mixers else None

    def __call__(self, examples: list[dict]) -> dict:
        pixel_values = torch.stack([example["pixel_values"] for example in examples])
        labels = torch.stack([example["labels"] for example in examples])
        if self.mix is None:
            return {"pixel_values": pixel_values,
                    "labels": torch.nn.functional.one_hot(labels, self.num_classes).float()}
        # The batch's draw depends on its examples (their keys, in order) only.
        keys = [int(example["sample_key"]) for example in examples]
        seed = int(np.random.SeedSequence([self.seed, *keys], spawn_key=(_MIX_STREAM,))
                   .generate_state(1, dtype=np.uint64)[0])
        with _seeded_cpu_rng(seed):
            pixel_values, labels = self.mix(pixel_values, labels)
        return {"pixel_values": pixel_values.as_subclass(torch.Tensor), "labels": labels}


class ImageCollator:
    """An evaluation batch: stacked images and hard labels int64 [B]."""

    def __call__(self, examples: list[dict]) -> dict:
        return {"pixel_values": torch.stack([example["pixel_values"] for example in examples]),
                "labels": torch.stack([example["labels"] for example in examples])}
