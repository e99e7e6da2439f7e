"""Evaluate a query tree over one index generation: numpy masks and BM25 scores.

Every node becomes a :class:`Match`: a bool mask over all documents and a float32 score
array (or None for nodes that only filter). Free words match the stemmed ``text`` field,
the ``title`` field (weighted higher) and the exact ``gene``/``alias`` values (by their
``name_key``: "NF-κB" is "NF-kB"); scores are BM25 summed over fields and words. Phrases
are checked against the words' positions, read once per word into numpy arrays, over the
documents holding every word; a phrase (or a query of words) that is a whole title
finds that title first.

Written as biologists write: a word that is a gene name in the index is looked up
unstemmed, as the figures naming it index it ("Ras" is not "RA"); a bare number is also
an Entrez ID; words naming an organism ("Mus musculus", "mouse") also match the figures
of that organism, and the answer's notes offer it as a filter.

Every query spends from a :class:`Budget` (terms, prefix expansions, phrase checks): past
it the query is refused with an ``InvalidParameter`` on ``q`` that says what to narrow,
because the server is one Python process and one slow answer slows every other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from whoosh.support.charset import accent_map

from indexer.analysis import IRREGULAR_PLURALS, name_key, stem_word, symbol_term, title_key
from indexer.index import schema
from indexer.lexicon import printed_names, typed_name
from indexer.organisms import KNOWN_COMMON_NAMES, describe, known_organisms
from server.search import query as q
from server.search.genes.resolve import resolve_gene
from server.search.models import InvalidParameter
from server.search.snapshot import MISSING_YEAR, Snapshot

K1, B = 1.2, 0.75
TITLE_BOOST = 2.0
GENE_BOOST = 1.5
PREFIX_SCORE = 1.0
TITLE_EXACT_BOOST = 4.0  # a title typed whole outranks a title holding the same words
ORGANISM_SCORE = 1.0  # below a word's BM25: figures that name the organism rank first
MAX_ORGANISM_WORDS = 4
_EXACT_STRIP = "()[]{}\"'.,;:!?<>"
TEXT_ANALYZER = schema.text_analyzer()
# Limits of one query, set so that its answer takes about 300 ms at most at 100k figures
# on a busy 2-core machine (measured by bench/bench_hostile.py).
MAX_TERMS = 64  # words, phrases, prefixes and fields in one query; a pasted title has ~20
MAX_PREFIX_TERMS = 500  # index terms all its prefixes expand to (IL* at 100k: 262)
MAX_POSTINGS = 1_000_000  # figures its words are in, summed (a word in every figure of 100k:
#                           100,000), and postings its prefixes read
MAX_PHRASE_FIGURES = 250_000  # figures whose positions its phrase words read, each word
#                                once (about 1 ms per 1,000 figures uncached: a phrase of the
#                                two commonest words at 100k reads 200,000)
# Past any of these a query is costly: it waits for its turn (``SearchService``).
COSTLY_POSTINGS = 300_000
COSTLY_PHRASE_FIGURES = 100_000
COSTLY_PREFIXES = 2
COSTLY_TERMS = 24  # each term costs a few arrays over every figure, whatever it matches


@dataclass
class Match:
    mask: np.ndarray
    scores: np.ndarray | None = None


@dataclass
class Explained:
    """What a query was understood as, beyond its text: resolved genes, dropped words."""

    stems: set[str] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)
    genes: list[dict] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # words naming an organism: {"text", "organism" (its latin name), "label", "figures"}
    organisms: list[dict] = field(default_factory=list)


@dataclass
class Budget:
    """The most work one query may ask for, and what it has used.

    :meth:`check` refuses, before any work, what the tree and the index's term counts
    tell: terms, the postings its words read, the positions its phrases read. Prefix
    expansions are counted as they are expanded. Past a limit: ``InvalidParameter`` on q.
    """

    terms: int = MAX_TERMS
    postings: int = MAX_POSTINGS
    prefix_terms: int = MAX_PREFIX_TERMS
    phrase_figures: int = MAX_PHRASE_FIGURES
    terms_in_query: int = 0
    used_postings: int = 0
    used_prefix_terms: int = 0
    used_phrase_figures: int = 0
    prefixes: list[str] = field(default_factory=list)  # as typed, for messages
    _by_word: dict[str, int] = field(default_factory=dict)  # postings per word, for messages
    _phrase_words: set[str] = field(default_factory=set)  # their positions are read once

    def check(self, tree: q.Node | None, snap: Snapshot) -> None:
        """Refuse ``tree`` if what can be counted before evaluating it is past a limit."""
        leaves = q.leaves_of(tree)
        self.terms_in_query = len(leaves)
        if len(leaves) > self.terms:
            raise InvalidParameter(
                "q",
                f"this query has {len(leaves):,} terms; at most {self.terms:,} are searched at "
                "once: remove some, or give genes and organisms as filters",
                position=leaves[self.terms].pos,
            )
        self.prefixes = [str(leaf) for leaf in leaves if _is_prefix(leaf)]
        self._estimate_prefixes(leaves, snap)
        words = [
            (leaf, analyze(leaf.text)) for leaf in leaves if isinstance(leaf, q.Word | q.Phrase)
        ]
        stem_count = sum(len(s) for _, s in words)
        phrases = any(isinstance(leaf, q.Phrase) for leaf, _ in words)
        if not phrases and stem_count * snap.documents <= min(COSTLY_POSTINGS, self.postings):
            return  # a few words: neither costly nor past the budget, whatever they are
        # Counted in the text field only (titles add a fraction): a term count costs a
        # lookup, so each stem is looked up once however often the query repeats it.
        figures: dict[str, int] = {}
        for leaf, stems in words:
            for stem in stems:
                if stem not in figures:
                    figures[stem] = snap.doc_frequency(schema.TEXT, stem)
            self.spend_postings(leaf, sum(figures[s] for s in stems))
            if isinstance(leaf, q.Phrase) and len(stems) > 1:
                self.spend_phrase(leaf, {s: figures[s] for s in stems})

    def _estimate_prefixes(self, leaves: list, snap: Snapshot) -> None:
        """Refuse prefixes whose text-field expansions alone are past the limit: counting
        terms is cheap, reading their postings (about 1 ms each at 100k) is not."""
        estimate = 0
        for leaf in leaves:
            if not isinstance(leaf, q.Prefix):
                continue
            for form in prefix_parts(leaf.text)[2]:
                room = self.prefix_terms - estimate
                estimate += len(snap.expand_prefix(schema.TEXT, form, room + 1))
                if estimate > self.prefix_terms:
                    raise self._too_many_prefix_terms(leaf.pos)

    def _too_many_prefix_terms(self, pos: int | None) -> InvalidParameter:
        shown = ", ".join(self.prefixes[:3]) + (", ..." if len(self.prefixes) > 3 else "")
        return InvalidParameter(
            "q",
            f"this query expands to more than {self.prefix_terms:,} prefix terms ({shown}); "
            "use longer prefixes",
            position=pos,
        )

    @property
    def costly(self) -> bool:
        """Whether the query is heavy enough to wait for its turn (see the service)."""
        return (
            self.terms_in_query > COSTLY_TERMS
            or self.used_postings > COSTLY_POSTINGS
            or self.used_phrase_figures > COSTLY_PHRASE_FIGURES
            or len(self.prefixes) > COSTLY_PREFIXES
        )

    def spend_postings(self, leaf: q.Node | None, count: int) -> None:
        label = str(leaf)
        self._by_word[label] = self._by_word.get(label, 0) + count
        self.used_postings += count
        if self.used_postings > self.postings:
            common = sorted(self._by_word, key=lambda w: -self._by_word[w])[:3]
            raise InvalidParameter(
                "q",
                f"the words of this query occur more than {self.postings:,} times in the "
                f"index, too many to search at once: leave out its commonest words "
                f"({', '.join(common)}), or narrow with filters",
                position=getattr(leaf, "pos", None),
            )

    def prefix_room(self) -> int:
        return self.prefix_terms - self.used_prefix_terms

    def spend_prefix_terms(self, label: str, count: int, pos: int | None) -> None:
        if label not in self.prefixes:
            self.prefixes.append(label)
        self.used_prefix_terms += count
        if self.used_prefix_terms > self.prefix_terms:
            raise self._too_many_prefix_terms(pos)

    def spend_phrase(self, phrase: q.Phrase, figures: dict[str, int]) -> None:
        """Spend the figures whose positions the phrase's words (``figures``: stem ->
        figures holding it) read, each word once a query: its positions are then cached."""
        new = {stem: count for stem, count in figures.items() if stem not in self._phrase_words}
        self._phrase_words.update(new)
        self.used_phrase_figures += sum(new.values())
        if self.used_phrase_figures > self.phrase_figures:
            raise InvalidParameter(
                "q",
                f"the phrase {phrase} needs the word positions of {sum(figures.values()):,} "
                f"figures read (more than {self.phrase_figures:,} for the whole query): "
                "add a rarer word to the phrase, or search its words without quotes",
                position=phrase.pos,
            )


def prefix_parts(text: str) -> tuple[str, list[str], list[str]]:
    """A prefix folded, its words (the last one the prefix), and the forms of the last
    word to expand in text fields: as typed and its stem, since the index holds stems."""
    prefix = text.strip(_EXACT_STRIP).casefold()
    words = [t.text for t in TEXT_ANALYZER(prefix, removestops=False, no_morph=True)]
    if not prefix or not words:
        return prefix, [], []
    last = words[-1]
    return prefix, words, sorted({last, *(t.text for t in TEXT_ANALYZER(last, removestops=False))})


def _is_prefix(leaf: q.Node) -> bool:
    return isinstance(leaf, q.Prefix) or (isinstance(leaf, q.Field) and leaf.prefix)


def analyze(text: str, is_gene_name: Callable[[str], bool] | None = None) -> list[str]:
    """The indexed forms (lower-cased, stemmed, stop words dropped) of the words in ``text``,
    each once; with ``is_gene_name``, gene names are looked up unstemmed (see ``terms``)."""
    return list(dict.fromkeys(terms(text, is_gene_name)))


def terms(text: str, is_gene_name: Callable[[str], bool] | None = None) -> list[str]:
    """The indexed forms of the words of ``text`` in order. A word that ``is_gene_name``
    and that the stemmer would turn into another word is kept as the figures that name
    it index it (``indexer.analysis.symbol_term``): "ras", not "ra"."""
    found = []
    for token in TEXT_ANALYZER(text, keeporiginal=True):
        term = token.text
        if is_gene_name is not None:
            word = token.original.lower().translate(accent_map)
            kept = symbol_term(word)
            if kept is not None and is_gene_name(word):
                term = kept
        found.append(term)
    return found


class Evaluator:
    def __init__(self, snap: Snapshot, budget: Budget | None = None) -> None:
        self.snap = snap
        self.n = snap.n_docs
        self.explained = Explained()
        self.budget = budget or Budget()
        self.leaf: q.Node | None = None  # the leaf being evaluated, for budget messages
        self._gene_names: dict[str, bool] = {}

    def is_gene_name(self, word: str) -> bool:
        """Whether ``word`` is a gene symbol or alias of the lexicon or printed in a figure."""
        known = self._gene_names.get(word)
        if known is None:
            key = name_key(word)
            known = bool(resolve_gene(self.snap, word)) or bool(
                len(self.snap.postings(schema.ALIAS, key)[0])
            )
            self._gene_names[word] = known
        return known

    def _analyze(self, text: str) -> list[str]:
        return analyze(text, self.is_gene_name)

    def evaluate(self, node: q.Node | None) -> Match | None:
        """The documents and scores of ``node``; None when it constrains nothing."""
        if node is None:
            return None
        if not isinstance(node, q.And | q.Or | q.Not):
            self.leaf = node
        method = getattr(self, f"_{type(node).__name__.lower()}")
        return method(node)

    # -- boolean nodes --------------------------------------------------------------------

    def _and(self, node: q.And) -> Match | None:
        matches = [m for m in self._and_children(node.children) if m is not None]
        if not matches:
            return None
        mask = matches[0].mask.copy()
        for m in matches[1:]:
            mask &= m.mask
        match = Match(mask, _sum_scores(matches, self.n))
        if all(isinstance(c, q.Word) for c in node.children):  # a title typed whole
            titled = self._exact_title(" ".join(c.text for c in node.children))
            if titled.mask.any():
                return _either([match, titled], self.n)
        return match

    def _and_children(self, children: tuple[q.Node, ...]) -> list[Match | None]:
        """The children's matches, consecutive words naming an organism taken together."""
        matches = []
        i = 0
        while i < len(children):
            run = self._organism_run(children, i)
            if run is None:
                matches.append(self.evaluate(children[i]))
                i += 1
                continue
            length, name, ordinals = run
            words = [self._word(c, organisms=False) for c in children[i : i + length]]
            matches.append(self._or_organism(_all_of(words, self.n), name, ordinals))
            i += length
        return matches

    def _organism_run(
        self, children: tuple[q.Node, ...], start: int
    ) -> tuple[int, str, list[int]] | None:
        """(words, name, organism ordinals) of the longest run of two or more words from
        ``start`` that names an organism of the index ("Homo sapiens", "fruit fly")."""
        longest = min(MAX_ORGANISM_WORDS, len(children) - start)
        for length in range(longest, 1, -1):
            run = children[start : start + length]
            if not all(isinstance(c, q.Word) for c in run):
                continue
            name = " ".join(c.text for c in run)
            ordinals = self._organisms_named(name)
            if ordinals:
                return length, name, ordinals
        return None

    def _organisms_named(self, name: str) -> list[int]:
        """Ordinals of the organisms that ``name`` is the latin or common name of."""
        folded = " ".join(name.strip(_EXACT_STRIP).casefold().split())
        arrays = self.snap.facets["organism"]
        ordinal = arrays.lookup(folded)
        if ordinal is None:
            latin = latin_of_common_name(folded)
            ordinal = arrays.lookup(latin) if latin else None
        return [] if ordinal is None else [ordinal]

    def _or_organism(self, words: Match | None, name: str, ordinals: list[int]) -> Match:
        """``words`` or the figures of the organism they name, which score less."""
        arrays = self.snap.facets["organism"]
        organism = arrays.mask(ordinals, self.n)
        for o in ordinals:
            latin = arrays.values[o]
            offer = {
                "text": name,
                "organism": latin,
                "label": describe(latin).label,
                "figures": int(arrays.totals[o]),
            }
            if offer not in self.explained.organisms:
                self.explained.organisms.append(offer)
        found = Match(organism, organism * np.float32(ORGANISM_SCORE))
        return found if words is None else _either([words, found], self.n)

    def _exact_title(self, text: str) -> Match:
        return self._terms([(schema.TITLE_KEY, title_key(text), TITLE_EXACT_BOOST)])

    def _or(self, node: q.Or) -> Match | None:
        matches = [m for m in (self.evaluate(c) for c in node.children) if m is not None]
        if not matches:
            return None
        mask = matches[0].mask.copy()
        for m in matches[1:]:
            mask |= m.mask
        return Match(mask, _sum_scores(matches, self.n))

    def _not(self, node: q.Not) -> Match | None:
        saved = self.explained
        self.explained = Explained()  # words under NOT are not highlighted
        child = self.evaluate(node.child)
        self.explained = saved
        return None if child is None else Match(~child.mask)

    # -- words ----------------------------------------------------------------------------

    def _word(self, node: q.Word, *, organisms: bool = True) -> Match | None:
        pieces = self._chunk_terms(node.text)
        exact = typed_name(node.text)
        if not pieces and any(TEXT_ANALYZER(node.text, removestops=False)):
            exact = ""  # a stop word ("on", "can") is not searched as a gene alias either
        parts = []
        if pieces:
            parts.append(self._text_words(node.text, pieces))
        if exact:
            genes = self._gene_names_match(exact)
            if genes.mask.any():
                parts.append(genes)
        ordinals = self._organisms_named(node.text) if organisms else []
        if ordinals:
            words = _either(parts, self.n) if parts else None
            parts = [self._or_organism(words, node.text, ordinals)]
        if not parts:
            self.explained.ignored.append(node.text)
            return None
        return _either(parts, self.n)

    def _chunk_terms(self, text: str) -> list[str]:
        """The terms of one typed word in order. A word of several parts is a name
        ("NF-AT", "TNF-a"): its stop words stay, matching only what the index holds for
        them (a Greek letter's "a", never the article, which is not indexed)."""
        # (the analyzer yields one Token object, updated in place: copy what is needed)
        stopped = [t.text if t.stopped else None for t in TEXT_ANALYZER(text, removestops=False)]
        if len(stopped) < 2:
            return self._analyze(text)
        stems = iter(terms(text, self.is_gene_name))
        return [word if word is not None else next(stems) for word in stopped]

    def _text_words(self, text: str, pieces: list[str]) -> Match:
        """Documents with the terms of a typed word in text or title. A word of several
        parts ("NF-kB", "PI3K/Akt") is matched as they are printed, side by side, or
        written as one word: "NF-kB" also finds "NF-κB" and "NFKB", not "NF" and "(B)"."""
        match = self._all_words(list(dict.fromkeys(pieces)), title=True)
        if len(pieces) < 2:
            return self._or_printed_in_parts(text, match)
        adjacent = self.snap.phrase_docs(schema.TEXT, pieces, match.mask)
        match = Match(adjacent, match.scores * adjacent)
        words = [t.text for t in TEXT_ANALYZER(text, no_morph=True, removestops=False)]
        joined = stem_word("".join(words))
        whole = self._terms([(schema.TEXT, joined, 1.0), (schema.TITLE, joined, TITLE_BOOST)])
        if not whole.mask.any():
            return match
        self.explained.stems.add(joined)
        return _either([match, whole], self.n)

    def _or_printed_in_parts(self, text: str, match: Match) -> Match:
        """``match`` or, for a gene name typed as one word that the lexicon knows printed
        in parts ("NFkB" as "NF-kB", "TGFb" as "TGF-B"), those parts side by side."""
        display = self.snap.lexicon.alias_display.get(name_key(typed_name(text)))
        if display is None or display.casefold() == text.casefold():
            return match
        parts = terms(display, self.is_gene_name)
        if len(parts) < 2:
            return match
        printed = self._all_words(list(dict.fromkeys(parts)), title=True)
        adjacent = self.snap.phrase_docs(schema.TEXT, parts, printed.mask)
        if not adjacent.any():
            return match
        return _either([match, Match(adjacent, printed.scores * adjacent)], self.n)

    def _gene_names_match(self, name: str) -> Match:
        """Figures with ``name`` as a gene symbol or printed name, or as an Entrez ID."""
        key = name_key(name)
        fields = [(schema.GENE, key, GENE_BOOST), (schema.ALIAS, key, GENE_BOOST)]
        if name.isdigit():
            fields.append((schema.ENTREZ, name.lstrip("0"), GENE_BOOST))
        match = self._terms(fields)
        if match.mask.any() and (name.isdigit() or len(printed_names(name)) > 1):
            # an Entrez ID or a shorthand ("ERK1/2"): say which genes it was read as
            symbols = [m.symbol for m in resolve_gene(self.snap, name)]
            if symbols:
                self.explained.genes.append({"value": name, "symbols": symbols})
        return match

    def _all_words(self, stems: list[str], *, title: bool, text: bool = True) -> Match:
        """Documents holding every stem (each in text or title), BM25 summed."""
        self.explained.stems.update(stems)
        matches = []
        for stem in stems:
            fields = [(schema.TEXT, stem, 1.0)] if text else []
            if title:
                fields.append((schema.TITLE, stem, TITLE_BOOST))
            matches.append(self._terms(fields))
        return matches[0] if len(matches) == 1 else _all_of(matches, self.n)

    def _phrase(self, node: q.Phrase) -> Match | None:
        words = terms(node.text, self.is_gene_name)  # keep repeats: positions matter
        stems = list(dict.fromkeys(words))
        if len(stems) <= 1:
            return self._word(q.Word(node.text, node.pos))
        both = self._all_words(stems, title=True)
        mask = self.snap.phrase_docs(schema.TEXT, words, both.mask)
        exact = self._terms([(schema.ALIAS, name_key(node.text), GENE_BOOST)])
        titled = self._exact_title(node.text)
        mask |= exact.mask | titled.mask
        return Match(mask, (both.scores + exact.scores + titled.scores) * mask)

    def _prefix(self, node: q.Prefix) -> Match | None:
        """Gene symbols and aliases starting with the prefix as typed, and text whose words
        start so: in ``NF-k*`` the words before the last are whole words ("nf"), and only
        the last is a prefix ("k*"), so it is not every word starting with k."""
        prefix, words, forms = prefix_parts(node.text)
        if not forms:
            self.explained.ignored.append(str(node))
            return None
        self.explained.prefixes.add(words[-1])
        key = name_key(prefix)  # gene names are indexed by their key: "NF-κ" is "nfk"
        exact = self._prefix_match([(schema.GENE, key), (schema.ALIAS, key)]) if key else None
        text = self._prefix_match(
            [(f, form) for form in forms for f in (schema.TEXT, schema.TITLE)]
        )
        leading = analyze(" ".join(words[:-1]))
        if leading:
            whole = self._all_words(leading, title=True)
            both = text.mask & whole.mask
            text = Match(both, (text.scores + whole.scores) * both)
        return text if exact is None else Match(text.mask | exact.mask, text.scores + exact.scores)

    def _prefix_match(self, fields: list[tuple[str, str]]) -> Match:
        mask = np.zeros(self.n, dtype=bool)
        scores = np.zeros(self.n, dtype=np.float32)
        label = str(self.leaf) if self.leaf is not None else f"{fields[0][1]}*"
        pos = getattr(self.leaf, "pos", None)
        expanded = []
        for field_name, prefix in fields:  # every field expanded before any postings read
            terms = self.snap.expand_prefix(field_name, prefix, self.budget.prefix_room() + 1)
            self.budget.spend_prefix_terms(label, len(terms), pos)
            expanded.append((field_name, terms))
        for field_name, terms in expanded:
            ids = [self.snap.postings(field_name, t)[0] for t in terms]
            self.budget.spend_postings(self.leaf, sum(len(i) for i in ids))
            if ids:
                hit = np.zeros(self.n, dtype=bool)
                hit[np.concatenate(ids)] = True
                mask |= hit
                scores += hit * np.float32(PREFIX_SCORE)
        return Match(mask, scores)

    # -- fields ---------------------------------------------------------------------------

    def _field(self, node: q.Field) -> Match | None:
        value = node.value.strip()
        name = node.name
        if name == "gene":
            return self._gene_field(value, node.prefix)
        if name in ("entrez", "mesh"):
            if node.prefix:
                return self._prefix_match([(name, value.casefold())])
            return self._terms([(name, value.casefold(), GENE_BOOST)])
        if name == "title":
            stems = self._analyze(value)
            if node.prefix:
                return self._prefix_match([(schema.TITLE, value.casefold())])
            return self._all_words(stems, title=True, text=False) if stems else None
        if name == "figid":
            mask = np.zeros(self.n, dtype=bool)
            docnum = self.snap.docnum_by_figid.get(value)
            if docnum is not None:
                mask[docnum] = True
            return Match(mask)
        return Match(self.facet_mask(name, [value], prefix=node.prefix))

    def _gene_field(self, value: str, prefix: bool) -> Match:
        key = name_key(value)
        if prefix:
            return self._prefix_match([(schema.GENE, key), (schema.ALIAS, key)])
        symbols = [m.symbol for m in resolve_gene(self.snap, value)]
        self.explained.genes.append({"value": value, "symbols": symbols})
        self.explained.stems.update(self._analyze(value))
        fields = [(schema.GENE, name_key(s), GENE_BOOST) for s in symbols]
        return self._terms([*fields, (schema.ALIAS, name_key(typed_name(value)), GENE_BOOST)])

    def _yearrange(self, node: q.YearRange) -> Match:
        return Match(year_mask(self.snap, node.low, node.high))

    def facet_mask(self, facet: str, values: list[str], *, prefix: bool = False) -> np.ndarray:
        """Documents with any of ``values`` in ``facet``: exact (any case), else every word."""
        arrays = self.snap.facets[facet]
        ordinals: list[int] = []
        for value in values:
            ordinals.extend(facet_ordinals(arrays, facet, value, prefix=prefix))
        return arrays.mask(ordinals, self.n)

    # -- scoring --------------------------------------------------------------------------

    def _terms(self, fields: list[tuple[str, str, float]]) -> Match:
        """Documents holding any of the (field, term, boost) triples; BM25 summed."""
        mask = np.zeros(self.n, dtype=bool)
        scores = np.zeros(self.n, dtype=np.float32)
        for field_name, term, boost in fields:
            ids, tf = self.snap.postings(field_name, term)
            if not len(ids):
                continue
            mask[ids] = True
            scores[ids] += self._bm25(field_name, ids, tf) * np.float32(boost)
        return Match(mask, scores)

    def _bm25(self, field_name: str, ids: np.ndarray, tf: np.ndarray) -> np.ndarray:
        df = len(ids)
        idf = np.float32(np.log(1.0 + (self.snap.documents - df + 0.5) / (df + 0.5)))
        if field_name in (schema.TEXT, schema.TITLE):
            lengths, average = self.snap.field_lengths(field_name)
            norm = K1 * (1 - B + B * lengths[ids] / np.float32(average))
        else:  # exact values: a figure's gene count should not dilute a gene match
            norm = np.float32(K1)
        return idf * tf * np.float32(K1 + 1) / (tf + norm)


def year_mask(snap: Snapshot, low: int | None, high: int | None) -> np.ndarray:
    mask = snap.years != MISSING_YEAR
    if low is not None:
        mask &= snap.years >= low
    if high is not None:
        mask &= snap.years <= high
    return mask


def facet_ordinals(arrays, facet: str, value: str, *, prefix: bool = False) -> list[int]:
    """Ordinals of ``facet`` values that ``value`` names."""
    folded = value.strip().casefold()
    if prefix:
        return [o for o, v in enumerate(arrays.values) if v.casefold().startswith(folded)]
    ordinal = arrays.lookup(folded)
    if ordinal is not None:
        return [ordinal]
    if facet == "organism":
        latin = latin_of_common_name(folded)
        if latin is not None and arrays.lookup(latin) is not None:
            return [arrays.lookup(latin)]
    return arrays.containing_words(folded)


def latin_of_common_name(name: str) -> str | None:
    """The latin name of the organism a common name (or its plural) names, if known:
    "mouse", "mice", "fruit fly", "fruitfly", "zebrafish", "humans"; or a genus or
    species of a well-known organism ("sapiens", "Drosophila")."""
    key = _compact(name)
    return _organism_by_common_name().get(key) or _organism_by_latin_word().get(key)


@cache
def _organism_by_latin_word() -> dict[str, str]:
    """Genus and species words (of four letters or more) of the organisms with a page."""
    words = {}
    for organism in known_organisms().values():
        for word in organism.latin.casefold().split():
            if len(word) >= 4:
                words.setdefault(word, organism.latin)
    return words


def _compact(name: str) -> str:
    return "".join(name.casefold().split())


@cache
def _organism_by_common_name() -> dict[str, str]:
    """Common name (case-folded, without spaces) and its plural -> latin name."""
    pairs = list(KNOWN_COMMON_NAMES.items())
    pairs += [(o.latin, o.common) for o in known_organisms().values() if o.common]
    pairs += [("Mus musculus", "mouse"), ("Rattus norvegicus", "rat")]
    pairs += [("Saccharomyces cerevisiae", "yeast")]
    names = {}
    for latin, common in pairs:
        folded = common.casefold()
        names[_compact(folded)] = latin
        names[_compact(re.sub(r"^(house|norway|fruit|baker's) ", "", folded))] = latin
    plurals = {plural: names[one] for plural, one in IRREGULAR_PLURALS.items() if one in names}
    names.update({f"{name}s": latin for name, latin in names.items() if name.isalpha()})
    names.update({f"{name[:-1]}ies": latin for name, latin in names.items() if name[-1] == "y"})
    names.update(plurals)  # "mice"
    return names


def _either(matches: list[Match], n: int) -> Match:
    """Documents of any of ``matches``, their scores summed."""
    if len(matches) == 1:
        return matches[0]
    mask = matches[0].mask.copy()
    for m in matches[1:]:
        mask |= m.mask
    return Match(mask, _sum_scores(matches, n))


def _all_of(matches: list[Match | None], n: int) -> Match | None:
    """Documents of every one of ``matches`` (None constrains nothing), scores summed."""
    present = [m for m in matches if m is not None]
    if not present:
        return None
    mask = present[0].mask.copy()
    for m in present[1:]:
        mask &= m.mask
    return Match(mask, _sum_scores(present, n))


def _sum_scores(matches: list[Match], n: int) -> np.ndarray | None:
    scored = [m.scores for m in matches if m.scores is not None]
    if not scored:
        return None
    total = scored[0].copy()
    for s in scored[1:]:
        total += s
    return total
