"""Peer search engines for the quality benchmark: tantivy and SQLite FTS5, plain BM25.

Both index what our index holds, read as our indexer reads it (``read_records`` and
``normalize``, newer records given their genes from the lexicon learnt from the older ones,
as ``indexer.pipeline`` does): a ``title`` field (figure and paper titles, weighted 2x at
query time, as ours weighs its title field) and a ``text`` field (``schema.searchable_text``:
both titles, caption, keywords, reference text, journal; then every gene symbol, alias,
printed gene word and gene keyword). Both stem English: tantivy's ``en_stem`` tokenizer,
SQLite's ``porter unicode61``.

A query is the user's words, every one OR-ed (no phrase, no operator, no field): its
punctuation (quotes, dashes, colons, parentheses, ``+``/``-``, ``*``) is turned into spaces
before the engine reads it, so no typed character is read as query syntax. Each engine then
splits and stems the words with its own tokenizer.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from indexer.index import schema
from indexer.lexicon import GeneLexicon
from indexer.record import Figure, RecordError, normalize
from indexer.sources import discover, read_records

TANTIVY_VERSION = "0.27"
INSTALL_TANTIVY = (
    "tantivy (the Python package, " + TANTIVY_VERSION + ") is needed to compare with tantivy: "
    "pip install -e '.[bench]'  (or: pip install 'tantivy==" + TANTIVY_VERSION + ".*')"
)
TITLE_WEIGHT = 2.0
_NOT_A_WORD = re.compile(r"[\W_]+")  # letters and digits of any script stay; all else splits


def load_tantivy() -> ModuleType:
    """The tantivy module, or an exit that says how to install it."""
    try:
        import tantivy
    except ImportError as exc:
        raise SystemExit(INSTALL_TANTIVY) from exc
    return tantivy


@dataclass(frozen=True, slots=True)
class PeerDocument:
    figid: str
    title: str
    text: str


def peer_documents(source: Path) -> list[PeerDocument]:
    """The sample's figures, each as the two fields the peers index."""
    figures = list(_figures(source))
    lexicon = GeneLexicon()
    for figure in figures:
        lexicon.learn(figure.genes)
    documents = []
    for figure in figures:
        lexicon.resolve_keywords(figure)
        title = " ".join(t for t in (figure.figtitle, figure.papertitle) if t)
        documents.append(PeerDocument(figure.figid, title, peer_text(figure)))
    return documents


def _figures(source: Path) -> Iterator[Figure]:
    """Every valid record; a record our indexer rejects is left out here too."""
    for path in discover([source]):
        for raw in read_records(path):
            if isinstance(raw, RecordError):
                continue
            try:
                yield normalize(raw.data, raw.location)
            except RecordError:
                continue


def peer_text(figure: Figure) -> str:
    """What the peers index as text: our searchable text, then every gene name."""
    names = [gene.symbol for gene in figure.genes]
    for gene in figure.genes:
        names += gene.aliases + gene.printed
    names += figure.gene_keywords
    return schema.searchable_text(figure) + "\n" + " ".join(dict.fromkeys(names))


def query_words(text: str) -> list[str]:
    """The typed words, lower-cased, with every character that is not a letter or a digit
    taken as a space: what is left is plain words for each engine's own tokenizer."""
    return _NOT_A_WORD.sub(" ", text).lower().split()


class Fts5Engine:
    """SQLite FTS5 in memory: ``porter unicode61``, ranked by ``bm25()`` with titles 2x."""

    name = "sqlite"

    def __init__(self, documents: list[PeerDocument]) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute(
            "CREATE VIRTUAL TABLE fts USING fts5(figid UNINDEXED, title, text, "
            "tokenize = 'porter unicode61')"
        )
        self.db.executemany(
            "INSERT INTO fts (figid, title, text) VALUES (?, ?, ?)",
            [(d.figid, d.title, d.text) for d in documents],
        )
        self.db.commit()
        self.version = f"SQLite {sqlite3.sqlite_version} FTS5"

    def search(self, text: str, limit: int) -> list[str]:
        words = query_words(text)
        if not words:
            return []
        # each word a quoted FTS5 string (so no word is an operator), any of them matching
        match = " OR ".join('"' + word.replace('"', '""') + '"' for word in words)
        rows = self.db.execute(
            "SELECT figid FROM fts WHERE fts MATCH ? "
            f"ORDER BY bm25(fts, 0.0, {TITLE_WEIGHT}, 1.0) LIMIT ?",
            (match, limit),
        )
        return [figid for (figid,) in rows]

    def close(self) -> None:
        self.db.close()


class TantivyEngine:
    """tantivy in memory: ``en_stem`` fields, the query parser's default disjunction, BM25
    with the title field boosted 2x."""

    name = "tantivy"

    def __init__(self, documents: list[PeerDocument]) -> None:
        tantivy = load_tantivy()
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("figid", stored=True, tokenizer_name="raw", index_option="basic")
        builder.add_text_field("title", tokenizer_name="en_stem")
        builder.add_text_field("text", tokenizer_name="en_stem")
        self.index = tantivy.Index(builder.build())
        writer = self.index.writer(heap_size=50_000_000, num_threads=1)
        for d in documents:
            writer.add_document(tantivy.Document(figid=d.figid, title=d.title, text=d.text))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()
        self.version = tantivy.__version__.split(",")[0]

    def search(self, text: str, limit: int) -> list[str]:
        words = query_words(text)
        if not words:
            return []
        query = self.index.parse_query(
            " ".join(words), ["title", "text"], field_boosts={"title": TITLE_WEIGHT}
        )
        hits = self.searcher.search(query, limit).hits
        return [self.searcher.doc(address)["figid"][0] for _, address in hits]

    def close(self) -> None:
        self.searcher = None
