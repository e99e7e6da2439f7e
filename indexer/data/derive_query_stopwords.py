"""Write ``query_stopwords.txt``: the Snowball project's English stop words, as Debian's
liblingua-stopwords-perl ships them, and the question words and question frames that
Snowball's list lacks (:data:`ADDED`).

    apt-get download liblingua-stopwords-perl && dpkg -x liblingua-stopwords-perl_*.deb x
    python indexer/data/derive_query_stopwords.py x/usr/share/perl5/Lingua/StopWords/EN.pm

writes ``indexer/data/query_stopwords.txt`` (``--output`` to write elsewhere): one word a
line, Snowball's first in its order, then each added group under a comment.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).with_name("query_stopwords.txt")
SNOWBALL_WORDS = 174  # https://snowballstem.org/algorithms/english/stop.txt

# What a question typed into a search box holds beyond Snowball's list, by kind. None is
# a topic: "what is the role of TP53 in apoptosis" asks for TP53 and apoptosis.
ADDED: dict[str, tuple[str, ...]] = {
    "question words": (
        "whose", "whether", "whatever", "whichever", "whoever", "whenever", "wherever",
        "however",
    ),
    "modal verbs": ("can", "may", "might", "must", "shall", "will"),
    "question frames": (
        "role", "roles", "involved", "involve", "involves", "involving", "please",
        "tell", "explain", "describe", "show", "shows", "find", "know", "known",
        "also", "happen", "happens", "get", "gets",
    ),
}  # fmt: skip

HEADER = """\
# about: words a typed query never has to match (question words and filler); phrases
#   in quotes still use them
# source: the Snowball project's English stop word list
#   (https://snowballstem.org/algorithms/english/stop.txt), 174 words, as shipped by
#   Debian's liblingua-stopwords-perl {version} (Lingua::StopWords::EN, whose lists
#   "were created as part of the Snowball project"); then the question words, modal
#   verbs and question frames it lacks, each group under its comment
# licence: Snowball's list is under the BSD 3-clause licence: Copyright (c) 2001, Dr
#   Martin Porter; 2004-2005, Richard Boulton; 2006-2021, Olly Betts; 2013, Yoshiki
#   Shibukawa; 2020, Stephane Carrez. All rights reserved. Redistribution and use in
#   source and binary forms, with or without modification, are permitted provided that
#   the following conditions are met: 1. Redistributions of source code must retain the
#   above copyright notice, this list of conditions and the following disclaimer.
#   2. Redistributions in binary form must reproduce the above copyright notice, this
#   list of conditions and the following disclaimer in the documentation and/or other
#   materials provided with the distribution. 3. Neither the name of the Snowball
#   project nor the names of its contributors may be used to endorse or promote
#   products derived from this software without specific prior written permission.
#   THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY
#   EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES
#   OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT
#   SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT,
#   INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED
#   TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR
#   BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
#   CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN
#   ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH
#   DAMAGE. The added words are this project's.
# derived-by: indexer/data/derive_query_stopwords.py (do not edit by hand)
# Snowball's English stop words
"""

_WORDS = re.compile(r"sub _stopwords \{\s*return qw\((?P<words>[^)]*)\);", re.S)


def snowball_words(module: Path) -> list[str]:
    """The words of Lingua::StopWords::EN, in its order."""
    if not module.is_file():
        raise SystemExit(f"error: {module}: no such file")
    found = _WORDS.search(module.read_text(encoding="utf-8"))
    words = found["words"].split() if found else []
    if len(words) != SNOWBALL_WORDS or len(set(words)) != len(words):
        raise SystemExit(f"error: {module}: expected Snowball's {SNOWBALL_WORDS} words")
    return words


def write_list(words: list[str], version: str, output: Path) -> int:
    lines = [HEADER.format(version=version), *(f"{w}\n" for w in words)]
    seen = set(words)
    for kind, added in ADDED.items():
        new = [w for w in added if w not in seen]
        if len(new) != len(added):
            raise SystemExit(f"error: {kind}: already in the list: {set(added) - set(new)}")
        seen.update(new)
        lines += [f"# added: {kind}\n", *(f"{w}\n" for w in new)]
    output.write_text("".join(lines), encoding="utf-8")
    return len(seen)


def debian_version(module: Path) -> str:
    """The package's version from its Debian changelog beside the module, if there."""
    changelog = module.parents[3] / "doc" / "liblingua-stopwords-perl" / "changelog.Debian.gz"
    if changelog.is_file():
        with gzip.open(changelog, "rt", encoding="utf-8") as text:
            first = text.readline()
        if found := re.search(r"\(([^)]+)\)", first):
            return found.group(1)
    raise SystemExit(f"error: {changelog}: not found; give the version with --package-version")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", type=Path, help="Lingua/StopWords/EN.pm")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--package-version", help="if Debian's changelog is not beside it")
    args = parser.parse_args(argv)
    words = snowball_words(args.module)
    version = args.package_version or debian_version(args.module)
    count = write_list(words, version, args.output)
    print(f"{args.output}: {count} words", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
