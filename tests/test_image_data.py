"""Image classification data (ligo/data/images.py, ligo/data/digits.py): folder checks, corrupt
files, augmentation seeded by (seed, key), mixup/cutmix batches and the digits miniature."""

import io
import random

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from ligo.base.errors import UserError
from ligo.data import digits
from ligo.data.images import (
    IMAGENET_MEAN,
    AugmentOptions,
    ImageCollator,
    ImageFolderDataset,
    SeededMixupCollator,
    check_images,
    eval_transform,
    scan_image_folder,
    train_transform,
    unreadable_images,
)

SMALL = AugmentOptions(input_size=32)


def write_image(path, mode="RGB", size=(48, 40), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path)


def write_tree(root, classes=("cat", "dog", "fox"), per_class=4, splits=("train", "val")):
    for split in splits:
        for c, name in enumerate(classes):
            for i in range(per_class):
                write_image(root / split / name / f"{i}.png", seed=100 * c + i)
    return root


@pytest.fixture
def tree(tmp_path):
    return write_tree(tmp_path / "images")


# --- the folder ------------------------------------------------------------------------------


def test_scan_reads_the_imagenet_layout_and_ignores_other_files(tree):
    (tree / "train" / "cat" / "notes.txt").write_text("not an image")
    write_image(tree / "train" / "dog" / "upper.JPEG")
    classes, samples = scan_image_folder(tree, "train")
    assert classes == ["cat", "dog", "fox"]
    assert len(samples) == 13 and not any(path.endswith(".txt") for path, _ in samples)
    assert sorted({label for _, label in samples}) == [0, 1, 2]
    assert all(f"/{classes[label]}/" in path for path, label in samples)


def test_scan_refuses_missing_folders(tmp_path, tree):
    with pytest.raises(UserError, match="does not exist"):
        scan_image_folder(tmp_path / "nowhere", "train")
    with pytest.raises(UserError, match=r"no 'test' folder \(found: train, val\)"):
        scan_image_folder(tree, "test")
    (tree / "empty").mkdir()
    (tree / "empty" / "loose.png").write_bytes(b"")
    with pytest.raises(UserError, match="holds no class folder"):
        scan_image_folder(tree, "empty")


def test_scan_refuses_a_class_folder_without_images(tree):
    (tree / "train" / "owl").mkdir()
    (tree / "train" / "owl" / "readme.txt").write_text("no image here")
    with pytest.raises(UserError, match=r"1 class folder\(s\) hold no image: '.*train/owl'.*\.jpg.*\.png"):
        scan_image_folder(tree, "train")


def test_val_split_must_have_the_training_classes(tree):
    train = ImageFolderDataset(tree, "train", eval_transform(SMALL), seed=0)
    (tree / "val" / "fox").rename(tree / "val" / "wolf")
    with pytest.raises(UserError, match=r"val' has other class folders .*missing fox; extra wolf"):
        ImageFolderDataset(tree, "val", eval_transform(SMALL), seed=0, classes=train.classes)
    ImageFolderDataset(tree, "val", eval_transform(SMALL), seed=0)  # fine on its own


def test_any_image_mode_becomes_three_channels(tmp_path):
    for i, mode in enumerate(["L", "P", "RGBA", "RGB"]):
        write_image(tmp_path / "train" / "a" / f"{mode}.png", mode=mode, seed=i)
    ds = ImageFolderDataset(tmp_path, "train", eval_transform(SMALL), seed=0)
    for key in range(len(ds)):
        item = ds[key]
        assert item["pixel_values"].shape == (3, 32, 32) and item["pixel_values"].dtype == torch.float32
        assert item["labels"].dtype == torch.int64 and item["labels"].ndim == 0 and item["sample_key"] == key


# --- corrupt files ---------------------------------------------------------------------------


def test_corrupt_images_are_found_and_refused(tree):
    _, samples = scan_image_folder(tree, "train")
    paths = [path for path, _ in samples]
    assert unreadable_images(paths) == []
    check_images(paths, [])
    check_images(paths)  # finds none itself

    noise = tree / "train" / "cat" / "noise.jpg"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    truncated = {}
    for name, form in (("truncated.png", "PNG"), ("truncated.jpg", "JPEG")):
        encoded = io.BytesIO()
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(encoded, form)
        truncated[form] = tree / "train" / "dog" / name
        truncated[form].write_bytes(encoded.getvalue()[: len(encoded.getvalue()) * 4 // 5])
    with Image.open(truncated["JPEG"]) as image:
        image.verify()  # verify() alone passes a truncated JPEG: decoding is needed

    _, samples = scan_image_folder(tree, "train")
    paths = [path for path, _ in samples]
    bad = unreadable_images(paths)
    assert [path for path, _ in bad] == [str(noise), str(truncated["JPEG"]), str(truncated["PNG"])]
    assert all("truncated" in reason for _, reason in bad[1:])
    assert unreadable_images(paths, num_workers=2) == bad
    with pytest.raises(UserError, match=r"3 of 15 image\(s\) cannot be decoded: .*noise\.jpg.*truncated\.png.*"
                                        r"remove or replace them"):
        check_images(paths, bad)


def test_check_images_lists_five_and_counts_the_rest():
    bad = [(f"/data/{i}.jpg", "OSError: broken") for i in range(8)]
    with pytest.raises(UserError) as err:
        check_images([path for path, _ in bad], bad)
    message = str(err.value)
    assert "/data/4.jpg" in message and "/data/5.jpg" not in message and "and 3 more" in message


# --- seeded augmentation ---------------------------------------------------------------------


def test_an_items_augmentation_depends_only_on_seed_and_key(tree):
    ds = ImageFolderDataset(tree, "train", train_transform(SMALL), seed=7)
    n = len(ds)
    first = ds[3]["pixel_values"]
    state = torch.get_rng_state()
    random.seed(1), np.random.seed(1), torch.manual_seed(1)  # other global streams: no effect
    assert torch.equal(ds[3]["pixel_values"], first)
    assert torch.equal(torch.get_rng_state(), torch.manual_seed(1).get_state())  # the caller's stream untouched
    torch.set_rng_state(state)
    assert not torch.equal(ds[3 + n]["pixel_values"], first)  # the next epoch: another crop
    assert not torch.equal(ImageFolderDataset(tree, "train", train_transform(SMALL), seed=8)[3]["pixel_values"], first)
    assert ds[3 + n]["labels"] == ds[3]["labels"] and ds[3 + n]["sample_key"] == 3 + n

    keys = list(range(2 * n))
    expected = {key: ds[key]["pixel_values"] for key in keys}
    order = list(reversed(keys))
    for workers in (0, 2):
        loader = DataLoader(ds, batch_size=5, sampler=order, num_workers=workers, collate_fn=ImageCollator())
        got = torch.cat([batch["pixel_values"] for batch in loader])
        assert torch.equal(got, torch.stack([expected[key] for key in order])), f"{workers} workers"


def test_eval_transform_is_deterministic(tree):
    ds = ImageFolderDataset(tree, "val", eval_transform(SMALL), seed=0)
    assert torch.equal(ds[1]["pixel_values"], ds[1 + len(ds)]["pixel_values"])
    assert eval_transform(AugmentOptions()).transforms[0].size == [256]  # DeiT: 224 / 0.875


def test_augmentation_options_are_checked():
    with pytest.raises(UserError, match="--reprob 1.5 is out of range"):
        AugmentOptions(reprob=1.5)
    with pytest.raises(UserError, match="--mixup -0.1 is out of range"):
        AugmentOptions(mixup=-0.1)
    assert round(255 * IMAGENET_MEAN[0]) == 124


# --- mixup / cutmix --------------------------------------------------------------------------


def test_mixup_collator_gives_soft_labels_seeded_by_the_examples(tree):
    ds = ImageFolderDataset(tree, "train", train_transform(SMALL), seed=0)
    examples = [ds[key] for key in range(8)]
    collate = SeededMixupCollator(3, SMALL, seed=5)
    state = torch.get_rng_state()
    batch = collate(examples)
    assert torch.equal(torch.get_rng_state(), state)
    assert batch["pixel_values"].shape == (8, 3, 32, 32) and batch["labels"].shape == (8, 3)
    assert batch["labels"].dtype == torch.float32
    assert torch.allclose(batch["labels"].sum(1), torch.ones(8))
    again = collate(examples)
    assert torch.equal(again["pixel_values"], batch["pixel_values"]) and torch.equal(again["labels"], batch["labels"])
    assert not torch.equal(collate([ds[key] for key in range(8, 16)])["labels"], batch["labels"])
    assert not torch.equal(SeededMixupCollator(3, SMALL, seed=6)(examples)["labels"], batch["labels"])

    # mixup alone always mixes: no row is one-hot (neighbours of another class get weight 1 - lam)
    mixup = SeededMixupCollator(3, AugmentOptions(input_size=32, mixup=0.8, cutmix=0.0), seed=5)(examples)
    assert (mixup["labels"].max(1).values < 1).any()
    cutmix = SeededMixupCollator(3, AugmentOptions(input_size=32, mixup=0.0, cutmix=1.0), seed=5)(examples)
    assert torch.allclose(cutmix["labels"].sum(1), torch.ones(8))

    off = SeededMixupCollator(3, AugmentOptions(input_size=32, mixup=0.0, cutmix=0.0), seed=5)(examples)
    hard = torch.stack([example["labels"] for example in examples])
    assert torch.equal(off["labels"], torch.nn.functional.one_hot(hard, 3).float())
    assert torch.equal(off["pixel_values"], torch.stack([example["pixel_values"] for example in examples]))


def test_mixed_batches_are_the_same_with_workers(tree):
    ds = ImageFolderDataset(tree, "train", train_transform(SMALL), seed=0)
    collate = SeededMixupCollator(3, SMALL, seed=5)
    batches = []
    for workers in (0, 2):
        loader = DataLoader(ds, batch_size=4, sampler=list(range(12, 24)), num_workers=workers, collate_fn=collate)
        batches.append(list(loader))
    for a, b in zip(*batches):
        assert torch.equal(a["pixel_values"], b["pixel_values"]) and torch.equal(a["labels"], b["labels"])


# --- the digits miniature --------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "digits"
    return out, digits.write_digits_image_folder(out)


def test_digits_tree_counts_and_split(digits_dir):
    out, counts = digits_dir
    assert counts == {"train": 1437, "val": 360, "classes": 10}
    assert sum(1 for _ in out.rglob("*.png")) == 1797
    assert [p.name for p in out.parent.iterdir()] == ["digits"]  # no partial folder left beside it
    train = ImageFolderDataset(out, "train", eval_transform(SMALL), seed=0)
    val = ImageFolderDataset(out, "val", eval_transform(SMALL), seed=0, classes=train.classes)
    assert train.classes == [str(d) for d in range(10)]
    assert len(train) == 1437 and len(val) == 360
    assert {label for _, label in val.samples} == set(range(10))
    with Image.open(train.samples[0][0]) as image:
        assert image.mode == "RGB" and image.size == (8, 8)
    assert train[0]["pixel_values"].shape == (3, 32, 32)


def test_digits_writer_is_idempotent_and_refuses_other_folders(digits_dir, tmp_path, capsys):
    out, counts = digits_dir
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    assert digits.write_digits_image_folder(out) == counts
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == before
    with pytest.raises(UserError, match="is not the digits tree of --val_fraction 0.2 --seed 1"):
        digits.write_digits_image_folder(out, seed=1)  # another split
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("someone's file")
    with pytest.raises(SystemExit):
        digits.main(["--output_dir", str(other)])
    assert "exists, is not empty" in capsys.readouterr().err and (other / "keep.txt").exists()
    with pytest.raises(UserError, match="--val_fraction 1.5 must leave each"):
        digits.write_digits_image_folder(tmp_path / "new", val_fraction=1.5)

    empty = tmp_path / "empty"
    empty.mkdir()
    digits.main(["--output_dir", str(empty), "--val_fraction", "0.5", "--seed", "3"])
    assert capsys.readouterr().out.strip() == f"{empty}: 898 training and 899 validation images of 10 classes"
