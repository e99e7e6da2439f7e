"""The search syntax: a lenient parser from query text to a small tree of nodes.

Understood: words, ``"phrases"``, ``AND``/``OR``/``NOT`` (upper case) and their spellings
from other engines (``&&``, ``||``, ``-word``; ``+word`` is a plain word), parentheses,
prefixes ``STAT*``, and fields ``gene:`` ``entrez:`` ``organism:`` ``disease:``
``chemical:`` ``annotation:`` ``mesh:`` ``title:`` ``figid:`` (a figid or alias)
``pmcid:`` ``doi:`` and ``year:`` (``2015``, ``2015..2020``, ``2015-2020``,
``[2015 TO 2020]``, ``{2015 TO *}``, ``>2015``, ``<=2020``).
Words bind with AND; NOT binds tighter than AND, AND tighter than OR. A word written
``+word``, or joined by an explicit ``AND``, is *required* (:attr:`Word.required`): the
service may show figures lacking a plain word when too few hold them all, never one
lacking a required word.

Lenient, but never silent: text that is not a field or an operator is taken as words,
unbalanced parentheses and quotes are closed at the end, a dangling operator or a
malformed year is dropped, and each such repair is a note in :attr:`Parsed.notes`. So a
figure title pasted with its colons, brackets, quotes, hyphens and Greek letters is simply
a list of words (in more than ``PASTED_TEXT_WORDS`` words, ``-word`` is taken as a
hyphenated word, not an exclusion: "log2 -transformed"). Only two things raise :class:`InvalidParameter` (on ``q``, with the
position): a reversed year range, and nesting deeper than ``MAX_DEPTH``, which keeps
every recursive walk of the tree (parser, evaluator, ``str``) far from Python's limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from server.search.models import InvalidParameter

FIELDS = (
    "gene", "entrez", "organism", "disease", "chemical", "annotation", "mesh", "title",
    "figid", "pmcid", "doi", "year",
)  # fmt: skip
OPERATORS = {"AND": "AND", "OR": "OR", "NOT": "NOT", "&&": "AND", "||": "OR"}
MAX_DEPTH = 32  # nested parentheses and NOTs; real queries use two or three
PASTED_TEXT_WORDS = 8  # past this many words, "-word" is pasted text, not an exclusion
MIN_YEAR, MAX_YEAR = 1000, 9999
_YEAR_SPAN = re.compile(r"^(\d{4})?(?:(\.\.|-)(\d{4})?)?$")
_YEAR_COMPARE = re.compile(r"^(>=|<=|>|<)(\d{4})$")
_YEAR_BRACKETS = re.compile(r"^([\[{])\s*(\d{4}|\*)\s+to\s+(\d{4}|\*)\s*([\]}])$", re.IGNORECASE)
_CHUNK_END = re.compile(r'[\s()"]|\|\||&&')
_UNSUPPORTED_SUFFIX = re.compile(r"^(.+?)[~^][\d.]*$")  # Lucene's fuzzy~ and boost^2


@dataclass(frozen=True)
class Word:
    text: str
    pos: int
    required: bool = False  # +word, or joined by an explicit AND

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
        # "+" marks the required words only beside words that are not: "+a AND b"
        loose = any(isinstance(c, Word) and not c.required for c in self.children)
        return " AND ".join(
            f"+{c}" if loose and isinstance(c, Word) and c.required else _group(c)
            for c in self.children
        )


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
class Parsed:
    """A query tree (None: the query asks for nothing) and the repairs made to read it."""

    tree: Node | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Token:
    kind: str  # "(" ")" "op" "term"
    value: str  # an operator's meaning: AND, OR or NOT
    pos: int
    node: Node | None = None
    spelled: str = ""  # an operator as typed ("-", "&&"), for notes


class _NotAField:
    """Marks a ``name:value`` chunk that is to be read as words."""


_NOT_A_FIELD = _NotAField()


def _at(pos: int) -> str:
    return f"at character {pos + 1}"


def _at_all(positions: list[int]) -> str:
    if len(positions) == 1:
        return _at(positions[0])
    return "at characters " + ", ".join(str(p + 1) for p in positions)


class _Lexer:
    """Query text to tokens; every repair of the text is noted in ``notes``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.notes: list[str] = []
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        i = 0
        while i < len(self.text):
            i = self._read(i)
        return self.tokens

    def _read(self, i: int) -> int:
        """Read the token at ``i``; return where the next one may start."""
        text, ch = self.text, self.text[i]
        if ch.isspace():
            return i + 1
        if ch in "()":
            self.tokens.append(_Token(ch, ch, i))
            return i + 1
        if ch == '"':
            return self._phrase(i)
        if (
            ch in "-+"
            and i + 1 < len(text)
            and not text[i + 1].isspace()
            and text[i + 1] not in "-+"
        ):
            # -word excludes; +word is required
            self.tokens.append(_Token("op", "NOT" if ch == "-" else "REQUIRE", i, spelled=ch))
            return i + 1
        if text.startswith(("||", "&&"), i):
            self.tokens.append(_Token("op", OPERATORS[text[i : i + 2]], i, spelled=text[i : i + 2]))
            return i + 2
        match = _CHUNK_END.search(text, i)
        end = match.start() if match else len(text)
        chunk = text[i:end]
        if chunk in OPERATORS:
            self.tokens.append(_Token("op", chunk, i, spelled=chunk))
            return end
        node, end = self._field(chunk, i, end)
        if isinstance(node, _NotAField):
            node = self._word(chunk, i)
        if node is not None:
            self.tokens.append(_Token("term", chunk, i, node))
        return end

    def _phrase(self, i: int) -> int:
        end = self.text.find('"', i + 1)
        if end < 0:
            self.notes.append(f'the " {_at(i)} has no closing quote: the phrase runs to the end')
            end = len(self.text)
        words = " ".join(self.text[i + 1 : end].split())
        if words:
            self.tokens.append(_Token("term", "", i, Phrase(words, i)))
        else:
            self.notes.append(f"empty quotes {_at(i)} were ignored")
        return end + 1

    def _word(self, chunk: str, pos: int) -> Node:
        unsupported = _UNSUPPORTED_SUFFIX.match(chunk)
        if unsupported and unsupported.group(1).strip("*"):
            stripped = unsupported.group(1)
            self.notes.append(
                f"~ and ^ are not supported (fuzzy and boosted terms): {chunk} {_at(pos)} was "
                f"searched as {stripped}"
            )
            chunk = stripped
        if "*" in chunk.rstrip("*").lstrip("*"):
            self.notes.append(
                f"* inside a word is not a wildcard ({chunk} {_at(pos)}): only a trailing * "
                "is, as in STAT*; it was searched as words"
            )
        if len(chunk) > 1 and chunk.endswith("*") and chunk.rstrip("*").strip("(\"'"):
            return Prefix(chunk.rstrip("*"), pos)
        return Word(chunk, pos)

    def _field(self, chunk: str, start: int, end: int) -> tuple[Node | _NotAField | None, int]:
        """The ``name:value`` node at ``start`` and where it ends; None when dropped."""
        name, colon, value = chunk.partition(":")
        folded = name.casefold()
        if not colon or folded not in FIELDS:
            if colon and name.isalpha() and value and not value.startswith("//"):  # not a URL
                self.notes.append(
                    f"{name}: is not a field (fields are {', '.join(FIELDS)}): {chunk} "
                    f"{_at(start)} was searched as words"
                )
            return _NOT_A_FIELD, end
        text, value_start = self.text, start + len(name) + 1
        following = text[end] if end < len(text) else ""
        if not value and following == '"':  # name:"quoted value"
            close = text.find('"', end + 1)
            if close < 0:
                self.notes.append(f'the " of {name}: {_at(start)} has no closing quote')
                close = len(text)
            value, end = " ".join(text[end + 1 : close].split()), close + 1
        elif not value and following == "(":
            self.notes.append(
                f"{name}:( ... ) {_at(start)} is not supported: write {folded}:A OR "
                f"{folded}:B; the group was searched as words"
            )
            return _NOT_A_FIELD, end
        elif value[:1] in ("[", "{"):
            value, end = self._bracketed(name, start, value_start)
            if folded != "year":
                self.notes.append(
                    f"{name}:{value} {_at(start)}: only year: takes a range; left out"
                )
                return None, end
        if not value:
            self.notes.append(
                f"{name}: {_at(start)} has no value (write {folded}:value, with no space after "
                "the colon); it was searched as a word"
            )
            return _NOT_A_FIELD, end
        if folded == "year":
            return self._year(value, start), end
        prefix = value.endswith("*") and len(value.rstrip("*")) > 0
        value = value.rstrip("*") if prefix else value
        if folded == "entrez" and not value.isdigit():
            self.notes.append(
                f"entrez:{value} {_at(start)} is not an Entrez Gene ID, which is a number "
                "(entrez:7157); search gene: for symbols and aliases"
            )
        return Field(folded, value, start, prefix), end

    def _bracketed(self, name: str, start: int, value_start: int) -> tuple[str, int]:
        """A ``[a TO b]`` value (it holds spaces) and where it ends."""
        close = re.compile(r"[\]}]").search(self.text, value_start)
        if close is None:
            value = self.text[value_start:].rstrip()
            self.notes.append(
                f"the {value[0]} of {name}:{value} {_at(start)} is never closed; closed at the end"
            )
            return value + ("]" if value[0] == "[" else "}"), len(self.text)
        return self.text[value_start : close.end()], close.end()

    def _year(self, value: str, pos: int) -> YearRange | None:
        span = _year_span(value)
        if span is None:
            self.notes.append(
                f"year:{value} {_at(pos)} is not a year or a year range (write year:2015, "
                "year:2015..2020 or year:[2015 TO 2020]); it was left out"
            )
            return None
        low, high = span
        if low is not None and high is not None and low > high:
            message = (
                f"year range year:{value} holds no year {_at(pos)}"
                if value[:1] in "[{"
                else f"year range year:{value} is reversed {_at(pos)}: write the earlier year "
                f"first, as in year:{high}..{low}"
            )
            raise InvalidParameter("q", message, position=pos)
        return YearRange(low, high, pos)


def _year_span(value: str) -> tuple[int | None, int | None] | None:
    """(first year, last year), either open (None), of a year value; None if malformed."""
    if span := _YEAR_SPAN.match(value):
        first, dots, last = span.groups()
        if not (first or last):
            return None
        low = int(first) if first else None
        return (low, low) if not dots else (low, int(last) if last else None)
    if compare := _YEAR_COMPARE.match(value):
        op, year = compare.group(1), int(compare.group(2))
        return {
            ">": (year + 1, None),
            ">=": (year, None),
            "<": (None, year - 1),
            "<=": (None, year),
        }[op]
    if brackets := _YEAR_BRACKETS.match(value):
        opening, first, last, closing = brackets.groups()
        low = None if first == "*" else int(first) + (opening == "{")
        high = None if last == "*" else int(last) - (closing == "}")
        return low, high
    return None


# -- grammar ------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over tokens; its depth is bounded by ``MAX_DEPTH``."""

    def __init__(self, tokens: list[_Token], notes: list[str]) -> None:
        self.tokens = tokens
        self.notes = notes
        self.i = 0
        self.depth = 0
        self.unclosed: list[int] = []

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node | None:
        nodes, unopened = [], []
        while self.peek() is not None:
            node = self.or_expr()
            if node is not None:
                nodes.append(node)
            if self.peek() is not None and self.peek().kind == ")":
                unopened.append(self.take().pos)
        if self.unclosed:
            were = "was" if len(self.unclosed) == 1 else "were"
            self.notes.append(
                f"{len(self.unclosed)} ( {_at_all(sorted(self.unclosed))} {were} never closed: "
                "closed at the end"
            )
        if unopened:
            were = "was" if len(unopened) == 1 else "were"
            self.notes.append(f") {_at_all(unopened)} had no ( and {were} ignored")
        return _combine(And, nodes)

    def or_expr(self) -> Node | None:
        parts, operators = [self.and_expr()], []
        while _is_op(self.peek(), "OR"):
            operators.append(self.take())
            parts.append(self.and_expr())
        for before, operator in zip(parts, operators, strict=False):
            if before is None:
                self._dangling(operator, "before")
        if operators and parts[-1] is None:
            self._dangling(operators[-1], "after")
        return _combine(Or, [p for p in parts if p is not None])

    def and_expr(self) -> Node | None:
        parts: list[Node] = []
        explicit = False  # the last token was an explicit AND: its right operand is required
        while True:
            token = self.peek()
            if token is None or token.kind == ")" or _is_op(token, "OR"):
                break
            if _is_op(token, "AND"):
                self.take()
                following = self.peek()
                if not parts:
                    self._dangling(token, "before")
                elif following is None or following.kind == ")" or _is_op(following, "OR"):
                    self._dangling(token, "after")
                else:
                    parts[-1] = _required(parts[-1])
                    explicit = True
                continue
            node = self.unary()
            if node is not None:
                parts.append(_required(node) if explicit else node)
            explicit = False
        return _combine(And, parts)

    def unary(self) -> Node | None:
        token = self.take()
        if _is_op(token, "REQUIRE"):
            following = self.peek()
            if following is None or following.kind != "term":
                return None  # "+(" or "+-": nothing a word could be; the rest reads on
            return _required(self.take().node)  # type: ignore[arg-type]
        if _is_op(token, "NOT"):
            following = self.peek()
            if following is None or following.kind == ")" or _is_op(following, "AND", "OR"):
                self._dangling(token, "after")
                return None
            self._enter(token.pos)
            child = self.unary()
            self.depth -= 1
            return Not(child) if child is not None else None
        if token.kind == "(":
            self._enter(token.pos)
            node = self.or_expr()
            self.depth -= 1
            if self.peek() is None:
                self.unclosed.append(token.pos)
            else:
                self.take()  # the ")": or_expr stops only there or at the end
                if node is None:
                    self.notes.append(f"empty parentheses {_at(token.pos)} were ignored")
            return node
        return token.node

    def _enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidParameter(
                "q",
                f"the query nests parentheses and NOTs more than {MAX_DEPTH} deep "
                f"{_at(pos)}: remove some",
                position=pos,
            )

    def _dangling(self, token: _Token, side: str) -> None:
        self.notes.append(
            f"{token.spelled or token.value} {_at(token.pos)} has nothing {side} it; ignored"
        )


def _required(node: Node) -> Node:
    """``node`` with its words required (a group's too: And groups are flattened)."""
    if isinstance(node, Word):
        return replace(node, required=True)
    if isinstance(node, And):
        return And(tuple(_required(child) for child in node.children))
    return node  # phrases, prefixes, fields, OR and NOT groups are strict already


def _is_op(token: _Token | None, *values: str) -> bool:
    return token is not None and token.kind == "op" and token.value in values


def _combine(kind: type[And] | type[Or], nodes: list[Node]) -> Node | None:
    flat: list[Node] = []
    for node in nodes:
        flat.extend(node.children if isinstance(node, kind) else [node])
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def _hyphens_in_pasted_text(tokens: list[_Token], notes: list[str]) -> list[_Token]:
    """In a long run of words (a pasted title: "log2 -transformed"), ``-word`` is the
    word, not an exclusion: a typed query that excludes is short, or can say NOT."""
    words = sum(1 for t in tokens if t.kind == "term")
    if words <= PASTED_TEXT_WORDS:
        return tokens
    kept = []
    for token in tokens:
        if token.spelled == "-":
            notes.append(
                f"- {_at(token.pos)} was read as a hyphen, not as an exclusion, in this "
                f"text of {words} words; write NOT before a word to exclude it"
            )
        else:
            kept.append(token)
    return kept


def parse_query(text: str) -> Parsed:
    """The query tree of ``text`` and notes on what was repaired or left out to read it."""
    lexer = _Lexer(text)
    tokens = _hyphens_in_pasted_text(lexer.run(), lexer.notes)
    tree = _Parser(tokens, lexer.notes).parse()
    return Parsed(tree, tuple(lexer.notes))


def parse(text: str) -> Node | None:
    """The query tree of ``text``, or None when it asks for nothing (browse everything)."""
    return parse_query(text).tree


def words_of(node: Node | None) -> list[Word | Phrase | Prefix | Field]:
    """The positive leaves of a tree (not under NOT), for highlighting and corrections."""
    if node is None or isinstance(node, Not | YearRange):
        return []
    if isinstance(node, And | Or):
        return [leaf for child in node.children for leaf in words_of(child)]
    return [node]


def leaves_of(node: Node | None) -> list[Word | Phrase | Prefix | Field | YearRange]:
    """Every leaf of a tree, negated or not, in query order (without recursion)."""
    leaves, stack = [], [node]
    while stack:
        current = stack.pop()
        if current is None:
            continue
        if isinstance(current, And | Or):
            stack.extend(reversed(current.children))
        elif isinstance(current, Not):
            stack.append(current.child)
        else:
            leaves.append(current)
    return leaves
