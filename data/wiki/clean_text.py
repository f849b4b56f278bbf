"""Turn WikiExtractor output into one clean paragraph per line.

Reads WikiExtractor's text (``<doc ...>`` blocks) on stdin and writes to stdout the
article lines without blank lines or doc tags, optionally Moses-normalised and
-tokenised (the authors' ``tokenize.sh``: replace unicode punctuation, normalise
punctuation, drop non-printing characters, tokenise without escaping), with accents
stripped (NFD, combining marks dropped). Work is spread over processes; progress goes
to stderr.
"""

import functools
import itertools
import multiprocessing
import re
import sys
import unicodedata

from sacremoses import MosesPunctNormalizer, MosesTokenizer
from tqdm import tqdm

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error

DOC_TAG = re.compile(r"^<doc id=|</doc>\s*$")
CHUNK_LINES = 2000


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


@functools.cache
def moses(lang: str):
    # Built once per worker process (the caches are per process).
    normalizer = MosesPunctNormalizer(lang=lang, pre_replace_unicode_punct=True, post_remove_control_chars=True)
    return normalizer, MosesTokenizer(lang=lang)


def clean_lines(lines, lang, tokenize):
    out = []
    for line in lines:
        line = line.strip()
        if not line or DOC_TAG.search(line):
            continue
        if tokenize:
            normalizer, tokenizer = moses(lang)
            line = tokenizer.tokenize(normalizer.normalize(line), escape=False, return_str=True)
        line = strip_accents(line).strip()
        if line:
            out.append(line)
    return out


def chunks(stream, size):
    while True:
        block = list(itertools.islice(stream, size))
        if not block:
            return
        yield block


@exit_on_user_error
def main():
    parser = OneLineParser(prog="python data/wiki/clean_text.py", description=__doc__)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--moses", action="store_true", help="Moses-normalise and -tokenise each line")
    parser.add_argument("--processes", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args()
    if args.processes < 1:
        raise UserError(f"--processes must be at least 1, got {args.processes}")

    work = functools.partial(clean_lines, lang=args.lang, tokenize=args.moses)
    kept = 0
    with multiprocessing.Pool(args.processes) as pool, tqdm(
        desc="cleaning" + (" + moses" if args.moses else ""), unit=" lines", file=sys.stderr
    ) as bar:
        # imap keeps the input order, so the output order is the dump's.
        for cleaned in pool.imap(work, chunks(sys.stdin, CHUNK_LINES)):
            if cleaned:
                sys.stdout.write("\n".join(cleaned) + "\n")
            kept += len(cleaned)
            bar.update(len(cleaned))
    if kept == 0:
        sys.exit("clean_text: no article text in the input; is it WikiExtractor output of a Wikipedia XML dump?")


if __name__ == "__main__":
    main()
