"""A miniature image classification set in ImageNet's folder layout, from scikit-learn's digits.

The miniature of the DeiT experiments needs real images without a download: scikit-learn ships
``load_digits`` (1,797 8x8 grayscale digits, 10 classes, values 0..16) inside the package. They
are written as ``<output_dir>/{train,val}/<digit>/<index>.png`` (RGB, value * 255 / 16 rounded,
still 8x8: the transforms resize), split stratified so that every digit is in both splits, and
read back with ligo.data.images.ImageFolderDataset like any ImageNet-style folder.

The tree is written in a temporary sibling folder and renamed into place, so an interrupted run
leaves no half tree; a second run with the same arguments finds the tree and writes nothing.

    python -m ligo.data.digits --output_dir data/digits [--val_fraction 0.2] [--seed 0]
"""

import math
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error

SPLITS = ("train", "val")


def _split(val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(images uint8 [N, 8, 8], labels, {split: indices}) for these arguments."""
    digits = load_digits()
    n, n_classes = len(digits.target), len(digits.target_names)
    n_val = math.ceil(val_fraction * n)  # as train_test_split counts it
    if not 0.0 < val_fraction < 1.0 or min(n_val, n - n_val) < n_classes:
        raise UserError(f"--val_fraction {val_fraction} must leave each of the {n_classes} digits an image in both "
                        f"splits ({n} images in all); use a fraction between 0.01 and 0.99 (default 0.2)")
    indices = np.arange(n)
    train, val = train_test_split(indices, test_size=val_fraction, stratify=digits.target, random_state=seed)
    images = np.rint(digits.images * 255.0 / 16.0).astype(np.uint8)
    return images, digits.target, {"train": np.sort(train), "val": np.sort(val)}


def _relative_paths(labels: np.ndarray, splits: dict[str, np.ndarray]) -> set[str]:
    return {f"{split}/{labels[i]}/{i}.png" for split in SPLITS for i in splits[split]}


def _files_under(folder: Path) -> set[str]:
    if not {entry.name for entry in folder.iterdir()} <= set(SPLITS):  # not walking some other large tree
        return set()
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if not path.is_dir()}


def write_digits_image_folder(output_dir: Path, val_fraction: float = 0.2, seed: int = 0) -> dict:
    """Write the digits tree; returns {"train": images, "val": images, "classes": 10}.

    An ``output_dir`` that already holds exactly this tree (same files: same split) is left as it is."""
    output_dir = Path(output_dir)
    images, labels, splits = _split(val_fraction, seed)
    counts = {"train": len(splits["train"]), "val": len(splits["val"]), "classes": len(np.unique(labels))}
    expected = _relative_paths(labels, splits)

    def refuse_or_reuse():
        if _files_under(output_dir) == expected:
            return counts
        raise UserError(f"'{output_dir}' exists, is not empty and is not the digits tree of --val_fraction "
                        f"{val_fraction} --seed {seed}; give a new or empty folder, or remove it")

    if output_dir.exists():
        if not output_dir.is_dir():
            raise UserError(f"'{output_dir}' is a file; give a folder to write the digits images to")
        if any(output_dir.iterdir()):
            return refuse_or_reuse()
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = output_dir.with_name(f".{output_dir.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by a killed run that had this process id
    try:
        for split in SPLITS:
            for digit in np.unique(labels):
                (partial / split / str(digit)).mkdir(parents=True)
            for i in splits[split]:
                rgb = np.repeat(images[i][:, :, None], 3, axis=2)
                Image.fromarray(rgb).save(partial / split / str(labels[i]) / f"{i}.png")
        try:
            os.rename(partial, output_dir)  # also replaces an empty folder
        except OSError:  # another run filled it meanwhile
            return refuse_or_reuse()
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return counts


@exit_on_user_error
def main(argv=None):
    parser = OneLineParser(prog="python -m ligo.data.digits", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", type=Path, required=True, help="the folder to write train/ and val/ in")
    parser.add_argument("--val_fraction", type=float, default=0.2, help="share of each digit's images in val/")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stratified split")
    args = parser.parse_args(argv)
    counts = write_digits_image_folder(args.output_dir, args.val_fraction, args.seed)
    print(f"{args.output_dir}: {counts['train']} training and {counts['val']} validation images "
          f"of {counts['classes']} classes")


if __name__ == "__main__":
    main()
