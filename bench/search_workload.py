"""The query classes of the search benchmark, drawn from an index's own term statistics.

Every class is a list of distinct :class:`SearchRequest`s (first page of 20, the default
facets) in which no word (and no gene) appears twice, in any class, so that each query
asks the engine words it has never been asked in the process:

- ``two_common``: two words, each in over a third of the figures. A corpus has few such
  words (ten at 100k synthetic figures), so when they run out the class goes on with the
  next most frequent words; :attr:`Workload.notes` says which share of the figures the
  words it used are in.
- ``two_rare``: two words, each in 5 to 50 figures, found together in at least one figure.
- ``gene``: ``gene:SYMBOL`` of one of the 100 most frequent genes.
- ``word_org_years``: one word in 2% to 33% of the figures, an organism filter (one of the
  three commonest organisms) and a year range of 3 to 10 years.
- ``browse``: no text (pages 1, 2, ... of everything).
- ``min_genes``: ten frequent genes, figures with at least three of them.

Text classes ask ``match="all"`` (every word required, as the peers are asked); the
service's default, ``match="best"``, is measured beside it by the benchmark.

A word is a term of the ``text`` field written as the figures print it (the vocabulary's
surface form), letters only, lower case, at least four letters, not a question or filler
word, and read back by the query analyzer as that same term. Choices are made by a stable
key (a hash of the seed and the word), so a seed always draws the same queries from the
same index whatever the order the index lists its terms in. A class the corpus has no
words for is left empty with the reason in :attr:`Workload.empty` (a corpus of a few
figures has no word in 5-50 of them), never an error.

The reader is an ``indexer.index.reader.GenerationReader`` (a server ``Snapshot`` is one);
what is used of it: ``documents``, ``live``, ``years``, ``spelling``, ``iter_terms``,
``postings`` (of the rare candidates only, to find pairs that share a figure) and
its facet tables (``arrays.facets``). The benchmark gives it a reader of its own, so the service it times
has read no postings yet.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexer.index import schema
from indexer.language import QUERY_STOP_WORDS
from server.search.models import DEFAULT_FACETS, SearchRequest
from server.search.terms import analyze

PER_PAGE = 20
CLASSES = ("two_common", "two_rare", "gene", "word_org_years", "browse", "min_genes")
TWO_WORD_CLASSES = ("two_common", "two_rare")
COMMON_SHARE = 1 / 3  # two_common: each word in over this share of the figures
RARE_FIGURES = (5, 50)  # two_rare: each word in this many figures (inclusive)
MIDDLE_SHARE = (1 / 50, 1 / 3)  # word_org_years: the word's share of the figures
FREQUENT_GENES = 100  # gene: one of these most frequent genes
MIN_GENES_LIST, MIN_GENES_NEED = 10, 3
TOP_ORGANISMS = 3
MIN_WORD_LETTERS = 4
YEAR_SPANS = (3, 10)


@dataclass
class Workload:
    documents: int
    classes: dict[str, list[SearchRequest]] = field(default_factory=dict)
    empty: dict[str, str] = field(default_factory=dict)  # class -> why it has no queries
    notes: dict[str, str] = field(default_factory=dict)  # class -> what its queries are

    def words(self, name: str) -> list[str]:
        """The words of a class's queries, in order."""
        return [w for r in self.classes.get(name, []) for w in r.q.split()]


def stable_key(seed: int, item: str) -> bytes:
    """A deterministic pseudo-random sort key of ``item`` for ``seed``."""
    return hashlib.blake2b(f"{seed}\0{item}".encode(), digest_size=8).digest()


def stable_order(items: Iterable[str], seed: int) -> list[str]:
    return sorted(items, key=lambda item: stable_key(seed, item))


def draw_workload(reader: Any, per_class: int, seed: int = 0) -> Workload:
    """``per_class`` queries of each class (fewer where the index has too few words)."""
    n = reader.documents
    work = Workload(n)
    words = plain_words(reader)  # term -> (surface word, figures)
    used: set[str] = set()

    def request(**fields: Any) -> SearchRequest:
        return SearchRequest(per_page=PER_PAGE, facets=DEFAULT_FACETS, **fields)

    def add(name: str, requests: list[SearchRequest], empty_reason: str) -> None:
        if requests:
            work.classes[name] = requests
        else:
            work.empty[name] = empty_reason

    # two_common
    common = _common_words(words, n, 2 * per_class, seed)
    used.update(common)
    pairs = list(zip(common[0::2], common[1::2], strict=False))
    add(
        "two_common",
        [request(q=f"{words[a][0]} {words[b][0]}", match="all") for a, b in pairs],
        "fewer than two words in this corpus",
    )
    if pairs:
        shares = [words[t][1] / n for pair in pairs for t in pair]
        strict = sum(words[t][1] > n * COMMON_SHARE for t in words)
        work.notes["two_common"] = (
            f"words in {min(shares):.0%}-{max(shares):.0%} of the figures "
            f"({strict} words of this corpus are in over a third)"
        )

    # two_rare
    low, high = RARE_FIGURES
    rare = stable_order((t for t, (_, df) in words.items() if low <= df <= high), seed)
    pairs = _sharing_pairs(reader, rare, per_class)
    used.update(t for pair in pairs for t in pair)
    add(
        "two_rare",
        [request(q=f"{words[a][0]} {words[b][0]}", match="all") for a, b in pairs],
        f"no words in {low}-{high} figures in this corpus"
        if not rare
        else f"no two words in {low}-{high} figures share a figure in this corpus",
    )
    if pairs:
        work.notes["two_rare"] = f"words in {low}-{high} figures, each pair in a figure together"

    # gene and min_genes: frequent genes, each asked once
    genes = _frequent_genes(reader)
    top = stable_order(genes[:FREQUENT_GENES], seed)[:per_class]
    add("gene", [request(q=f"gene:{g}") for g in top], "no genes in this corpus")
    if top:
        work.notes["gene"] = f"one of the {min(FREQUENT_GENES, len(genes))} most frequent genes"

    # word_org_years
    lo_share, hi_share = MIDDLE_SHARE
    middle = stable_order(
        (t for t, (_, df) in words.items() if n * lo_share <= df <= n * hi_share and t not in used),
        seed,
    )[:per_class]
    used.update(middle)
    organisms = _top_values(reader, "organism", TOP_ORGANISMS)
    years = reader.years[reader.live & (reader.years > 0)]
    if middle and organisms and years.size:
        first, last = (int(y) for y in np.percentile(years, [10, 70]))
        newest = int(years.max())
        requests = []
        for term in middle:
            pick = int.from_bytes(stable_key(seed, term), "big")
            year_min = first + pick % (last - first + 1)
            span = YEAR_SPANS[0] + (pick >> 16) % (YEAR_SPANS[1] - YEAR_SPANS[0] + 1)
            requests.append(
                request(
                    q=words[term][0],
                    match="all",
                    filters={"organism": [organisms[(pick >> 32) % len(organisms)]]},
                    year_min=year_min,
                    year_max=min(year_min + span, newest),
                )
            )
        add("word_org_years", requests, "")
        work.notes["word_org_years"] = (
            f"a word in {lo_share:.0%}-{hi_share:.0%} of the figures, an organism of the "
            f"{len(organisms)} commonest, {YEAR_SPANS[0]}-{YEAR_SPANS[1]} years"
        )
    else:
        work.empty["word_org_years"] = (
            "no unused words in 2%-33% of the figures in this corpus"
            if not middle
            else "no organisms or years in this corpus"
        )

    # browse
    pages = max(0, min(per_class, -(-n // PER_PAGE)))
    add(
        "browse",
        [request(page=p) for p in range(1, pages + 1)],
        "no figures in this corpus",
    )
    if pages:
        work.notes["browse"] = f"no text, pages 1-{pages}, newest first"

    # min_genes: the next most frequent genes, ten a query
    rest = stable_order(genes[FREQUENT_GENES : FREQUENT_GENES + 10 * per_class], seed)
    lists = [rest[i : i + MIN_GENES_LIST] for i in range(0, len(rest), MIN_GENES_LIST)]
    lists = [g for g in lists if len(g) == MIN_GENES_LIST][:per_class]
    add(
        "min_genes",
        [request(filters={"gene": g}, min_genes=MIN_GENES_NEED) for g in lists],
        f"fewer than {FREQUENT_GENES + MIN_GENES_LIST} genes in this corpus",
    )
    if lists:
        last = min(len(genes), FREQUENT_GENES + 10 * per_class)
        work.notes["min_genes"] = (
            f"{MIN_GENES_LIST} of the genes ranked {FREQUENT_GENES + 1}-{last} by figures, "
            f"at least {MIN_GENES_NEED}"
        )
    work.classes = {name: work.classes[name] for name in CLASSES if name in work.classes}
    return work


def plain_words(reader: Any) -> dict[str, tuple[str, int]]:
    """Terms of the ``text`` field a plain typed word finds: term -> (word, figures)."""
    out = {}
    for term, figures in reader.iter_terms(schema.TEXT):
        word = reader.spelling.get(term, term)
        if (
            len(word) >= MIN_WORD_LETTERS
            and word.isalpha()
            and word.isascii()
            and word.islower()
            and word not in QUERY_STOP_WORDS
            and analyze(word) == [term]
        ):
            out[term] = (word, figures)
    return out


def _common_words(words: dict[str, tuple[str, int]], n: int, count: int, seed: int) -> list[str]:
    """``count`` words in over a third of the figures, or as many of the most frequent
    words as make ``count``, in a stable order."""
    strict = [t for t, (_, df) in words.items() if df > n * COMMON_SHARE]
    if len(strict) < count:
        rest = sorted(
            (t for t in words if t not in strict), key=lambda t: (-words[t][1], t)
        )  # the most frequent first
        strict += rest[: count - len(strict)]
    chosen = stable_order(strict, seed)[:count]
    return chosen[: len(chosen) // 2 * 2]


def _sharing_pairs(reader: Any, candidates: list[str], count: int) -> list[tuple[str, str]]:
    """Up to ``count`` disjoint pairs of ``candidates`` found together in some figure,
    taken in the candidates' order: each word pairs with the first earlier unpaired word
    it shares a figure with."""
    waiting: dict[int, list[str]] = {}  # figure -> unpaired words seen in it
    paired: set[str] = set()
    pairs: list[tuple[str, str]] = []
    for term in candidates:
        if len(pairs) >= count:
            break
        docs = reader.postings(schema.TEXT, term)[0].tolist()
        partner = next(
            (w for d in docs for w in waiting.get(d, ()) if w not in paired),
            None,
        )
        if partner is None:
            for d in docs:
                waiting.setdefault(d, []).append(term)
            continue
        paired.update((partner, term))
        pairs.append((partner, term))
    return pairs


def _value_counts(reader: Any, facet: str) -> Counter[str]:
    """Live figures per value of a facet (a figure counted once per value)."""
    tables = reader.arrays.facets[facet]
    values = tables.values.all()
    entry_doc = np.repeat(np.arange(len(reader.live), dtype=np.int64), tables.doc_sizes())
    entries = np.unique(np.stack([entry_doc, tables.doc_vals.astype(np.int64)]), axis=1)
    entries = entries[:, reader.live[entries[0]]]
    counts = np.bincount(entries[1], minlength=len(values))
    return Counter({values[o]: int(c) for o, c in enumerate(counts.tolist()) if c})


def _frequent_genes(reader: Any) -> list[str]:
    """Gene symbols, the most frequent first (ties by symbol)."""
    counts = _value_counts(reader, "gene")
    return [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _top_values(reader: Any, facet: str, count: int) -> list[str]:
    counts = _value_counts(reader, facet)
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:count]]
