"""Split a text file into train / valid / test by lines, as the authors do: the last
``valid + test`` lines are held out, valid before test, the rest is train. Streams the
file twice (count, then write), so a full Wikipedia dump never sits in memory."""

import sys
from pathlib import Path

from tqdm import tqdm

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.data.text_files import count_lines


@exit_on_user_error
def main():
    parser = OneLineParser(prog="python data/wiki/split_lines.py", description=__doc__)
    parser.add_argument("all_file", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--valid_lines", type=int, default=5000)
    parser.add_argument("--test_lines", type=int, default=5000)
    args = parser.parse_args()

    for name in ("valid_lines", "test_lines"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not args.all_file.is_file():
        sys.exit(f"split_lines: {args.all_file} is not a file; pass the text file to split")
    if not args.out_dir.is_dir():
        sys.exit(f"split_lines: {args.out_dir} is not a folder; pass the folder that receives the splits")
    total = count_lines(args.all_file)
    held_out = args.valid_lines + args.test_lines
    if total <= held_out:
        sys.exit(
            f"split_lines: {args.all_file} has {total} lines, not more than valid + test = {held_out}; "
            "lower VALID_LINES / TEST_LINES or use a larger dump"
        )
    sizes = {"train": total - held_out, "valid": args.valid_lines, "test": args.test_lines}
    with args.all_file.open(encoding="utf-8") as src, tqdm(total=total, desc="splitting", unit=" lines") as bar:
        for split, size in sizes.items():
            path = args.out_dir / f"{args.lang}.{split}.raw"
            with path.open("w", encoding="utf-8") as dst:
                for _ in range(size):
                    dst.write(next(src))
            bar.update(size)
            tqdm.write(f"{path}: {size} lines")


if __name__ == "__main__":
    main()
