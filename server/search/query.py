"""The search syntax: a lenient parser from query text to a small tree of nodes.

Understood: words, ``"phrases"``, ``AND``/``OR``/``NOT`` (upper case), parentheses,
prefixes ``STAT*``, and fields ``gene:`` ``entrez:`` ``organism:`` ``disease:``
``chemical:`` ``annotation:`` ``mesh:`` ``title:`` ``figid:`` ``year:2015..2020``.
Words bind with AND; NOT binds tighter than AND, AND tighter than OR.

Nothing here raises on odd input except a reversed year range: text that is not a field
or an operator is taken as words, unbalanced parentheses and quotes are closed at the
end, a dangling operator is dropped. So a figure title pasted with its colons, brackets,
quotes, hyphens and Greek letters is simply a list of words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.search.models import InvalidParameter

FIELDS = (
    "gene", "entrez", "organism", "disease", "chemical", "annotation", "mesh", "title",
    "figid", "year",
)  # fmt: skip
OPERATORS = ("AND", "OR", "NOT")
MIN_YEAR, MAX_YEAR = 1000, 9999
_YEAR = re.compile(r"^(\d{4})?(?:(\.\.)(\d{4})?)?$")
_CHUNK_END = re.compile(r'[\s()"]')


@dataclass(frozen=True)
class Word:
    text: str
    pos: int

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Phrase:
    text: str
    pos: int

    def __str__(self) -> str:
        return f'"{self.text}"'


@dataclass(frozen=True)
class Prefix:
    text: str  # without the trailing "*"
    pos: int

    def __str__(self) -> str:
        return f"{self.text}*"


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    pos: int
    prefix: bool = False

    def __str__(self) -> str:
        value = f'"{self.value}"' if re.search(r"\s", self.value) else self.value
        return f"{self.name}:{value}{'*' if self.prefix else ''}"


@dataclass(frozen=True)
class YearRange:
    low: int | None
    high: int | None
    pos: int

    def __str__(self) -> str:
        if self.low == self.high:
            return f"year:{self.low}"
        return f"year:{self.low or ''}..{self.high or ''}"


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " AND ".join(_group(c) for c in self.children)


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(_group(c) for c in self.children)


@dataclass(frozen=True)
class Not:
    child: Node

    def __str__(self) -> str:
        return f"NOT {_group(self.child)}"


Node = Word | Phrase | Prefix | Field | YearRange | And | Or | Not


def _group(node: Node) -> str:
    return f"({node})" if isinstance(node, And | Or) else str(node)


# -- tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "(" ")" "op" "term"
    value: str
    pos: int
    node: Node | None = None


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Token(ch, ch, i))
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            tokens.append(_Token("term", "", i, Phrase(" ".join(text[i + 1 : end].split()), i)))
            i = end + 1
        else:
            match = _CHUNK_END.search(text, i)
            end = match.start() if match else n
            chunk = text[i:end]
            if chunk in OPERATORS:
                tokens.append(_Token("op", chunk, i))
                i = end
                continue
            node, end = _field(text, chunk, i, end)
            tokens.append(_Token("term", chunk, i, node or _word(chunk, i)))
            i = end
    return tokens


def _word(chunk: str, pos: int) -> Node:
    if len(chunk) > 1 and chunk.endswith("*") and chunk.rstrip("*").strip("(\"'"):
        return Prefix(chunk.rstrip("*"), pos)
    return Word(chunk, pos)


def _field(text: str, chunk: str, start: int, end: int) -> tuple[Node | None, int]:
    """A ``name:value`` node starting at ``start`` (and where it ends), or None."""
    name, colon, value = chunk.partition(":")
    if not colon or name.casefold() not in FIELDS:
        return None, end
    name = name.casefold()
    if not value and end < len(text) and text[end] == '"':  # name:"quoted value"
        close = text.find('"', end + 1)
        close = len(text) if close < 0 else close
        value, end = " ".join(text[end + 1 : close].split()), close + 1
    elif not value:
        return None, end
    if name == "year":
        return _year(value, start), end
    prefix = value.endswith("*") and len(value.rstrip("*")) > 0
    value = value.rstrip("*") if prefix else value
    return (Field(name, value, start, prefix) if value.strip() else None), end


def _year(value: str, pos: int) -> Node | None:
    match = _YEAR.match(value)
    if not match or not (match.group(1) or match.group(3)):
        return None
    low = int(match.group(1)) if match.group(1) else None
    high = int(match.group(3)) if match.group(3) else None
    if not match.group(2):
        high = low
    if low is not None and high is not None and low > high:
        raise InvalidParameter(
            "q",
            f"year range year:{value} is reversed at character {pos + 1}: write the earlier "
            f"year first, as in year:{high}..{low}",
            position=pos,
        )
    return YearRange(low, high, pos)


# -- grammar ------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node | None:
        nodes = []
        while self.peek() is not None:
            node = self.or_expr()
            if node is not None:
                nodes.append(node)
            if self.peek() is not None and self.peek().kind == ")":  # unbalanced: drop it
                self.take()
        return _combine(And, nodes)

    def or_expr(self) -> Node | None:
        parts = [self.and_expr()]
        while self.peek() is not None and self.peek().kind == "op" and self.peek().value == "OR":
            self.take()
            parts.append(self.and_expr())
        return _combine(Or, [p for p in parts if p is not None])

    def and_expr(self) -> Node | None:
        parts = []
        while True:
            token = self.peek()
            if token is None or token.kind == ")" or (token.kind == "op" and token.value == "OR"):
                break
            if token.kind == "op" and token.value == "AND":
                self.take()
                continue
            node = self.unary()
            if node is not None:
                parts.append(node)
        return _combine(And, parts)

    def unary(self) -> Node | None:
        token = self.take()
        if token.kind == "op" and token.value == "NOT":
            nxt = self.peek()
            if nxt is None or nxt.kind == ")" or (nxt.kind == "op" and nxt.value != "NOT"):
                return None  # dangling NOT
            child = self.unary()
            return Not(child) if child is not None else None
        if token.kind == "(":
            node = self.or_expr()
            if self.peek() is not None and self.peek().kind == ")":
                self.take()
            return node
        return token.node


def _combine(kind: type[And] | type[Or], nodes: list[Node]) -> Node | None:
    flat: list[Node] = []
    for node in nodes:
        flat.extend(node.children if isinstance(node, kind) else [node])
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def parse(text: str) -> Node | None:
    """The query tree of ``text``, or None when it asks for nothing (browse everything)."""
    return _Parser(_tokens(text)).parse()


def words_of(node: Node | None) -> list[Word | Phrase | Prefix | Field]:
    """The positive leaves of a tree (not under NOT), for highlighting and corrections."""
    if node is None or isinstance(node, Not | YearRange):
        return []
    if isinstance(node, And | Or):
        return [leaf for child in node.children for leaf in words_of(child)]
    return [node]
