"""Find record files and split them into raw records.

Three input formats are accepted:

- Markdown files whose YAML front matter is one record (the PFOCR site's format);
- plain YAML files holding one record or a list of records;
- JSON Lines files, one record per line.

Every raw record carries a *location* (``path``, ``path:LINE`` or ``path#INDEX``) used in
error reports, and a *digest* of its source text used by ``pfocr update`` to skip records
that have not changed since the last run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from indexer.errors import RecordError

try:  # ~5x faster than PyYAML's C loader; PyYAML remains the reference parser.
    import yaml_rs
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    yaml_rs = None

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
YAML_SUFFIXES = frozenset({".yml", ".yaml"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
RECORD_SUFFIXES = MARKDOWN_SUFFIXES | YAML_SUFFIXES | JSONL_SUFFIXES
# Size limits (README, "Record limits"): the largest real record file is 20 KB.
MAX_RECORD_BYTES = 1 << 20  # a Markdown file, or one line of JSON Lines
MAX_YAML_FILE_BYTES = 64 << 20  # a YAML file may hold a list of records
MAX_JSONL_FILE_BYTES = 1 << 30
# The line ending a Markdown file's front matter, with the newline before it: a pattern
# that starts with a literal is searched 7x faster than one that starts with "^".
_CLOSING_LINE = re.compile(r"\n(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)


class SourceError(ValueError):
    """A source path given on the command line cannot be used at all."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as parsed from its file, before any validation."""

    location: str
    digest: str
    data: Any


def discover(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Return the record files named by ``paths`` (folders searched recursively), sorted.

    Hidden files and folders (".git", ".DS_Store") are skipped inside folders.
    """
    found: set[str] = set()
    for given in paths:
        path = os.fspath(given)
        if os.path.isdir(path):
            found.update(_walk(path))
        elif os.path.isfile(path):
            found.add(path)
        else:
            raise SourceError(f"{path}: no such file or folder")
    return [Path(p) for p in sorted(found)]


def _walk(folder: str) -> Iterator[str]:
    # os.walk with plain strings: pathlib costs seconds on 100k files.
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in RECORD_SUFFIXES:
                yield os.path.join(root, name)


def digest_units(path: Path) -> Iterator[tuple[str, str]]:
    """Yield ``(location, digest)`` of each record in ``path`` without parsing YAML.

    Used by incremental updates to find unchanged records cheaply. A file that cannot
    be split yields a single unit for the whole file, so it is re-read (and reported).
    """
    try:
        if path.stat().st_size > max_file_bytes(path):
            yield str(path), "too large"  # never indexed: read_records reports it
            return
        data = path.read_bytes()
    except OSError:
        yield str(path), "unreadable"
        return
    if path.suffix.lower() in JSONL_SUFFIXES:
        for number, line in enumerate(data.splitlines(), start=1):
            if line.strip():
                yield f"{path}:{number}", _digest(line)
    else:
        yield str(path), _digest(data)


def max_file_bytes(path: Path) -> int:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return MAX_JSONL_FILE_BYTES
    return MAX_YAML_FILE_BYTES if suffix in YAML_SUFFIXES else MAX_RECORD_BYTES


def read_records(path: Path) -> Iterator[RawRecord | RecordError]:
    """Yield every raw record of one file, or a ``RecordError`` for each that cannot be read."""
    try:
        size, limit = path.stat().st_size, max_file_bytes(path)
        if size > limit:  # refused before it is read into memory
            yield RecordError(
                str(path), None, f"file too large: {_size(size)}, at most {_size(limit)} allowed"
            )
            return
        data = path.read_bytes()
    except OSError as exc:
        yield RecordError(str(path), None, f"cannot read file: {exc.strerror or exc}")
        return
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from _read_jsonl(path, data)
        return
    try:
        text = _decode(data)
    except RecordError as exc:
        yield RecordError(str(path), exc.field, exc.problem)
        return
    if suffix in MARKDOWN_SUFFIXES:
        yield from _read_markdown(path, text, _digest(data))
    else:
        yield from _read_yaml_file(path, text, _digest(data))


def _size(count: int) -> str:
    return f"{count:,} bytes"


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecordError(
            "",
            None,
            f"unreadable encoding: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
        ) from None


def _read_markdown(path: Path, text: str, digest: str) -> Iterator[RawRecord | RecordError]:
    first_end = text.find("\n")
    first_line = text if first_end < 0 else text[:first_end]
    if first_line.strip() != "---":
        yield RecordError(
            str(path), None, "not a record: no YAML front matter (first line is not '---')"
        )
        return
    closing = _CLOSING_LINE.search(text, first_end) if first_end >= 0 else None
    if closing is None:
        yield RecordError(
            str(path), None, "not a record: YAML front matter has no closing '---' line"
        )
        return
    try:
        data = parse_yaml(text[first_end + 1 : closing.start() + 1], first_line=2)
    except RecordError as exc:
        yield RecordError(str(path), None, exc.problem)
        return
    yield RawRecord(str(path), digest, data)


def _read_yaml_file(path: Path, text: str, digest: str) -> Iterator[RawRecord | RecordError]:
    try:
        data = parse_yaml(text, first_line=1)
    except RecordError as exc:
        yield RecordError(str(path), None, exc.problem)
        return
    if isinstance(data, list):
        for index, item in enumerate(data):
            yield RawRecord(f"{path}#{index}", digest, item)
    else:
        yield RawRecord(str(path), digest, data)


def _read_jsonl(path: Path, data: bytes) -> Iterator[RawRecord | RecordError]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        location = f"{path}:{number}"
        if len(line) > MAX_RECORD_BYTES:
            yield RecordError(
                location,
                None,
                f"record too large: {_size(len(line))}, at most {_size(MAX_RECORD_BYTES)} allowed",
            )
            continue
        try:
            record = json.loads(_decode(line))
        except RecordError as exc:
            yield RecordError(location, None, exc.problem)
        except json.JSONDecodeError as exc:
            yield RecordError(location, None, f"invalid JSON at column {exc.colno}: {exc.msg}")
        else:
            yield RawRecord(location, _digest(line), record)


# Characters YAML does not allow in a document (PyYAML's reader refuses them; yaml_rs
# silently ends the document at a NUL, losing the rest of the record).
_NOT_ALLOWED = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)

# Records mean what YAML 1.1 says (PyYAML; the PFOCR site's Jekyll build reads 1.1).
# yaml_rs, 5x faster, reads YAML 1.2, which differs on some plain scalars: `no`, `on` are
# text in 1.2 and booleans in 1.1, `1e3` a number or text, `017` 17 or 15, `12:30` text or
# 750, and yaml_rs reads `_0` as 0. So yaml_rs reads only documents where every plain
# scalar that may not be text is a form both read alike (``_SAME_IN_BOTH``), and that have
# no tags, anchors, flow collections, explicit or empty keys, or document markers, where
# yaml_rs accepts what PyYAML refuses. tests/test_sources.py checks the two against each
# other over the sample and generated scalars.
_WORDS_NOT_TEXT = (
    r"yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|<<|=|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)"
)
_NUMBERS_MAYBE_NOT_ALIKE = (
    r"[-+]?0[xXoObB][0-9a-fA-F_]*"  # hexadecimal, octal, binary
    r"|[-+]?[0-9_.:]*[0-9][0-9_.:]*(?:[eE][-+]?[0-9_]*)?"  # yaml_rs reads "_0" as 0
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt \t][^\n#]*)?"  # dates, timestamps
)
_SAME_IN_BOTH = r"[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"
_SCALAR_END = r"[ \t]*(?=$|#|:(?:[ \t]|$))"
# What may follow where a plain scalar starts, and make the document PyYAML's: a match
# anywhere sends the document to PyYAML (one search, no loop over the plain scalars).
_AFTER_SCALAR_START = (
    r"(?=[-+.0-9_yYnNoO<=!&\[{|>?:])(?:"  # fails fast on ordinary text
    f"(?:{_WORDS_NOT_TEXT}|(?!{_SAME_IN_BOTH}{_SCALAR_END})(?:{_NUMBERS_MAYBE_NOT_ALIKE})){_SCALAR_END}"
    r"|[!&]"  # a tag or an anchor
    r"|[\[{](?![\]}][ \t]*$)"  # a flow collection but [] or {} (yaml_rs takes `[a, :]`)
    r"|[|>][^\n]*\s*\Z"  # an empty block scalar that ends the text ('\n' in yaml_rs)
    r"|[?:](?:[ \t]|$)"  # an explicit or empty key
    r")"
)
# Where a plain scalar starts in block style (flow style goes to PyYAML): a new line after
# its indentation and any "- ", or after ": ". Two regexes, because each begins with a
# literal the regex engine finds fast; one with both tried every character (3x slower).
_PLAIN_SCALAR_STARTS = (
    re.compile(r"\n[ \t-]*+" + _AFTER_SCALAR_START, re.MULTILINE),  # search "\n" + text
    re.compile(r":[ \t]++" + _AFTER_SCALAR_START, re.MULTILINE),
)
_DOCUMENT_MARKERS = ("\n---", "\n...")  # several documents: an error in 1.1, a list in 1.2


def parse_yaml(text: str, *, first_line: int) -> Any:
    """Parse YAML text as YAML 1.1; errors give the line number in the file
    (``first_line`` = line 1)."""
    bad = _NOT_ALLOWED.search(text)
    if bad:
        line = text.count("\n", 0, bad.start())
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1)
        raise RecordError(
            "",
            None,
            f"bad YAML at line {line + first_line}, column {column + 1}: "
            f"control character U+{ord(bad.group()):04X} is not allowed",
        )
    if yaml_rs is not None and reads_alike_in_yaml_1_2(text):
        try:
            return yaml_rs.loads(text)
        except Exception:
            pass
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        raise RecordError("", None, "bad YAML " + _describe_yaml_error(exc, first_line)) from None
    except yaml.YAMLError as exc:
        raise RecordError("", None, f"bad YAML: {exc}") from None


def reads_alike_in_yaml_1_2(text: str) -> bool:
    """Whether a YAML 1.2 parser is sure to read ``text`` as YAML 1.1 does (see above)."""
    text = "\n" + text
    if any(marker in text for marker in _DOCUMENT_MARKERS):
        return False
    return not any(starts.search(text) for starts in _PLAIN_SCALAR_STARTS)


def _describe_yaml_error(exc: yaml.MarkedYAMLError, first_line: int) -> str:
    """ "at line 4, column 1: did not find expected ',' (while parsing ... from line 3)"."""

    def at(mark: yaml.Mark) -> str:
        return f"line {mark.line + first_line}, column {mark.column + 1}"

    text = f"at {at(exc.problem_mark)}: " if exc.problem_mark else ""
    text += exc.problem or "syntax error"
    if exc.context and exc.context_mark:
        text += f" ({exc.context} started at {at(exc.context_mark)})"
    return text
