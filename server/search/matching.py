"""Evaluate a query tree over one index generation: numpy masks and BM25 scores.

Every node becomes a :class:`server.search.scoring.Match`. Free words match the stemmed
``text`` field, the ``title`` field (weighted higher) and the exact ``gene``/``alias``
values (by their ``name_key``: "NF-κB" is "NF-kB"). Phrases are checked against the
words' positions over the documents holding every word; a phrase (or a query of words)
that is a whole title finds that title first.

Written as biologists write: a word that is a gene name in the index is looked up
unstemmed, as the figures naming it index it ("Ras" is not "RA"); a bare number is also
an Entrez ID; words naming an organism ("Mus musculus", "mouse") also match the figures
of that organism, and the answer offers it as a filter.

A query's free words need not all be held (``Evaluator(loose=True)``): the top-level
match then holds every figure with any of them and counts, per figure, how many it
holds (:class:`server.search.scoring.Loose`); the service shows those holding the most.
Words required by syntax (``+word``, ``AND``), phrases, prefixes and fields stay
required. Compounds match however they are written: "cross talk", "cross-talk" and
"crosstalk" are one word.

Every query spends from a :class:`server.search.budget.Budget`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from indexer.analysis import (
    GREEK_CHAR,
    fold_greek_text,
    index_term,
    name_key,
    stem_word,
)
from indexer.index import schema
from indexer.language import QUERY_STOP_WORDS
from indexer.lexicon import typed_name
from indexer.organisms import describe, latin_of_common_name
from server.search import lookups
from server.search import query as q
from server.search.budget import Budget
from server.search.filters import facet_mask, year_mask
from server.search.genes.resolve import resolve_gene
from server.search.scoring import (
    GENE_BOOST,
    ORGANISM_SCORE,
    PREFIX_SCORE,
    TITLE_BOOST,
    TITLE_EXACT_BOOST,
    Loose,
    Match,
    all_of,
    any_of,
    bm25,
    no_documents,
    sum_scores,
)
from server.search.snapshot import Snapshot
from server.search.terms import EXACT_STRIP, TEXT_ANALYZER, analyze, prefix_parts, terms

MAX_ORGANISM_WORDS = 4
MIN_COMPOUND = 6  # letters of a word worth looking for as two words ("upregulation")
# Figures holding the two parts of a word written apart, at most: their positions are read.
MAX_SPLIT_FIGURES = 20_000
# A term's match is sparse when its postings number at most 1/SPARSE_BELOW of the documents.
SPARSE_BELOW = 32


def is_filler(node: q.Node) -> bool:
    """A plain word a query never has to match: a question or filler word ("what", "how",
    "does", "role"), unless it is typed in capitals, as a gene ("WAS", "CAN") is."""
    if not isinstance(node, q.Word) or node.required or node.text.isupper():
        return False
    return node.text.strip(EXACT_STRIP).casefold() in QUERY_STOP_WORDS


def looks_like_gene(word: str) -> bool:
    """Written as gene names are: a digit, a capital after the first letter, or a Greek
    letter, even spelled out ("HER2", "p21", "c-Myc", "MYC", "PGC-1α", "beta-catenin"),
    not as English words are ("Liver", "alphabet")."""
    if any(c.isdigit() or c.isupper() for c in word[1:]) or GREEK_CHAR.search(word):
        return True
    lower = word.lower()
    return fold_greek_text(lower) != lower


class Explained:
    """What a query was understood as, beyond its text: resolved genes, dropped words."""

    def __init__(self) -> None:
        self.stems: set[str] = set()
        self.prefixes: set[str] = set()
        self.genes: list[dict] = []
        self.ignored: list[str] = []
        self.notes: list[str] = []
        # words naming an organism: {"text", "organism" (its latin name), "label", "figures"}
        self.organisms: list[dict] = []
        self.lookups: list[lookups.Lookup] = []  # identifiers found


@dataclass
class _Unit:
    """One thing a conjunction asks for: a word (or the words naming an organism
    together), or any other node; ``free`` if a figure may lack it."""

    label: str
    match: Match | None
    free: bool
    word: q.Word | None = None  # a single typed word, which may join its neighbour
    only_narrows: bool = False  # NOT or a year range: it asks for nothing by itself


class Evaluator:
    def __init__(
        self, snap: Snapshot, budget: Budget | None = None, *, loose: bool = False
    ) -> None:
        """``loose``: the free words of the top-level conjunction need not all be held."""
        self.snap = snap
        self.n = snap.n_docs
        self.explained = Explained()
        self.budget = budget or Budget()
        self.loose = loose
        self.leaf: q.Node | None = None  # the leaf being evaluated, for budget messages
        self._gene_names: dict[str, bool] = {}
        self._positions: dict[tuple[str, str], np.ndarray] = {}  # read once a query

    def is_gene_name(self, word: str) -> bool:
        """Whether ``word`` is a gene symbol or alias of the lexicon or printed in a figure
        (a name NCBI Gene alone knows counts only for genes in the index: "mice" is not
        one, though MICE is an NCBI symbol)."""
        known = self._gene_names.get(word)
        if known is None:
            genes = resolve_gene(self.snap, word)
            known = any(g.figures or g.known_from != "ncbi" for g in genes) or bool(
                len(self.snap.postings(schema.ALIAS, name_key(word))[0])
            )
            self._gene_names[word] = known
        return known

    def _phrase_docs(self, field: str, words: list[str], candidates: np.ndarray) -> np.ndarray:
        return self.snap.phrase_docs(field, words, candidates, self._positions)

    def _analyze(self, text: str) -> list[str]:
        return analyze(text, self.is_gene_name)

    def evaluate_query(self, tree: q.Node | None) -> Match | None:
        """The match of a whole query: loose at the top, if the evaluator is."""
        if self.loose and isinstance(tree, q.And):
            return self._conjunction(tree, loose=True)
        return self.evaluate(tree)

    def evaluate(self, node: q.Node | None) -> Match | None:
        """The documents and scores of ``node``; None when it constrains nothing."""
        if node is not None and not isinstance(node, q.And | q.Or | q.Not):
            self.leaf = node
        match node:
            case None:
                return None
            case q.And():
                return self._conjunction(node)
            case q.Or():
                return any_of([self.evaluate(child) for child in node.children])
            case q.Not():
                return self._negation(node)
            case q.Word():
                return self._word(node)
            case q.Phrase():
                return self._phrase(node)
            case q.Prefix():
                return self._prefix(node)
            case q.Field():
                return self._field(node)
            case q.YearRange():
                return Match(year_mask(self.snap, node.low, node.high))
        raise TypeError(f"not a query node: {node!r}")

    # -- boolean nodes --------------------------------------------------------------------

    def _conjunction(self, node: q.And, *, loose: bool = False) -> Match | None:
        children = node.children
        if loose:  # question and filler words need not match, while other words remain
            fillers = [c for c in children if is_filler(c)]
            if fillers and len(fillers) < len(children):
                self.explained.ignored.extend(c.text for c in fillers)  # type: ignore[union-attr]
                children = tuple(c for c in children if not is_filler(c))
        units = self._units(children)
        self._join_compounds(units)
        titled = None
        if all(isinstance(c, q.Word) for c in node.children):  # a title typed whole
            titled = self._exact_title(" ".join(c.text for c in node.children))
            titled = titled if titled.any() else None
        free = [u for u in units if u.free and u.match is not None] if loose else []
        asked = any(not u.free and not u.only_narrows for u in units)  # required: +word...
        if len(free) < (1 if asked else 2):  # nothing to leave out
            match = all_of([u.match for u in units])
            return match if match is None or titled is None else any_of([match, titled])
        return self._loose_conjunction(units, free, titled, asked)

    def _loose_conjunction(
        self, units: list[_Unit], free: list[_Unit], titled: Match | None, asked: bool
    ) -> Match:
        """Every document with every other unit and any ``free`` word (or none if ``asked``:
        the query requires a word, phrase or field); ``loose`` says how many each holds."""
        required = all_of([u.match for u in units if not u.free])
        held = np.zeros(self.n, dtype=np.uint8)
        for unit in free:
            held += unit.match.mask  # type: ignore[union-attr]
        if titled is not None:
            held[titled.mask] = len(free)
        # With a word, phrase or field required, a figure may hold none of the free words;
        # else at least one ("a NOT b" is not every figure without b).
        floor = 0 if asked else 1
        mask = held >= floor
        if required is not None:
            mask &= required.mask
        present = [u.match for u in units if u.match is not None]
        scores = sum_scores(present + ([titled] if titled is not None else []))
        masks = tuple(u.match.mask for u in free)  # type: ignore[union-attr]
        return Match(mask, scores, Loose(tuple(u.label for u in free), masks, held, floor))

    def _units(self, children: tuple[q.Node, ...]) -> list[_Unit]:
        """The children's matches, consecutive words naming an organism taken together."""
        units = []
        i = 0
        while i < len(children):
            child = children[i]
            run = self._organism_run(children, i)
            if run is None:
                named = len(self.explained.lookups)
                match = self.evaluate(child)
                # a word naming figures (a figid, PMCID, DOI) narrows like a field
                free = isinstance(child, q.Word) and not child.required
                free = free and len(self.explained.lookups) == named
                word = child if isinstance(child, q.Word) else None
                narrows = isinstance(child, q.Not | q.YearRange)
                units.append(_Unit(str(child), match, free, word, narrows))
                i += 1
                continue
            length, name, ordinals = run
            words = children[i : i + length]
            matched = all_of([self._word(c, organisms=False) for c in words])
            free = not any(c.required for c in words)  # type: ignore[union-attr]
            units.append(_Unit(name, self._or_organism(matched, name, ordinals), free))
            i += length
        return units

    def _join_compounds(self, units: list[_Unit]) -> None:
        """Two typed words written as one in figures ("cross talk": "crosstalk") hold both."""
        for left, right in pairwise(units):
            if left.word is None or right.word is None or left.match is None or right.match is None:
                continue
            joined = self._joined_term(left.word.text, right.word.text)
            if joined is None:
                continue
            found = self._terms([(schema.TEXT, joined, 1.0), (schema.TITLE, joined, TITLE_BOOST)])
            if found.any():
                self.explained.stems.add(joined)
                left.match = any_of([left.match, found])
                right.match = any_of([right.match, Match(found.mask)])

    @staticmethod
    def _joined_term(left: str, right: str) -> str | None:
        """The term of two plain words written as one, or None if either is not one word."""
        words = [t.text for t in TEXT_ANALYZER(f"{left} {right}", no_morph=True)]
        if len(words) != 2 or not all(w.isalpha() for w in words):
            return None
        return stem_word("".join(words))

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
        folded = " ".join(name.strip(EXACT_STRIP).casefold().split())
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
        return found if words is None else any_of([words, found])

    def _exact_title(self, text: str) -> Match:
        return self._terms([(schema.TITLE_KEY, schema.title_term(text), TITLE_EXACT_BOOST)])

    def _negation(self, node: q.Not) -> Match | None:
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
            if genes.any():
                parts.append(genes)
        found = lookups.find(self.snap, node.text)
        if found is not None:  # a figure's name, a paper's PMCID or DOI: those figures
            self.explained.lookups.append(found)
            parts.append(Match(found.mask(self.n), np.zeros(self.n, dtype=np.float32)))
        ordinals = self._organisms_named(node.text) if organisms else []
        if ordinals:
            parts = [self._or_organism(any_of(parts), node.text, ordinals)]
        if not parts:
            self.explained.ignored.append(node.text)
            return None
        return any_of(parts)

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
            return self._or_written_apart(text, self._or_printed_in_parts(text, match))
        adjacent = self._phrase_docs(schema.TEXT, pieces, match.mask)
        match = Match(adjacent, match.scores * adjacent)
        words = [t.text for t in TEXT_ANALYZER(text, no_morph=True, removestops=False)]
        joined = stem_word("".join(words))
        whole = self._terms([(schema.TEXT, joined, 1.0), (schema.TITLE, joined, TITLE_BOOST)])
        if not whole.any():
            return match
        self.explained.stems.add(joined)
        return any_of([match, whole])

    def _or_written_apart(self, text: str, match: Match) -> Match:
        """``match`` or, for a word that figures also write as two ("crosstalk": "cross
        talk", "cross-talk"; "upregulation": "up-regulation"), those two side by side."""
        words = [t.text for t in TEXT_ANALYZER(text, no_morph=True)]
        if len(words) != 1 or not words[0].isalpha() or len(words[0]) < MIN_COMPOUND:
            return match
        cuts = self._possible_cuts(words[0])
        if not cuts or self.is_gene_name(words[0]):
            return match
        found = [match]
        for parts in cuts:
            both = self._all_words(parts, title=False)
            apart = self._phrase_docs(schema.TEXT, parts, both.mask)
            if apart.any():
                found.append(Match(apart, both.scores * apart))
        return any_of(found)  # type: ignore[return-value]  # never empty

    def _possible_cuts(self, word: str) -> list[list[str]]:
        """The (left, right) terms of each cut of ``word`` into two that figures hold,
        both, in at most MAX_SPLIT_FIGURES together. Left parts are looked up first: most
        words' beginnings are no word ("les", "lesa"...), and their ends need no stemming."""
        lefts = {cut: index_term(word[:cut]) for cut in range(2, len(word) - 1)}
        lefts = {cut: term for cut, term in lefts.items() if term}  # no stop word
        left_figures = self.snap.doc_frequencies(schema.TEXT, list(lefts.values()))
        lefts = {
            cut: (term, figures)
            for (cut, term), figures in zip(lefts.items(), left_figures, strict=True)
            if 0 < figures < MAX_SPLIT_FIGURES
        }
        rights = {cut: index_term(word[cut:]) for cut in lefts}
        rights = {cut: term for cut, term in rights.items() if term}
        right_figures = self.snap.doc_frequencies(schema.TEXT, list(rights.values()))
        return [
            [lefts[cut][0], right]
            for (cut, right), figures in zip(rights.items(), right_figures, strict=True)
            if figures and lefts[cut][1] + figures <= MAX_SPLIT_FIGURES
        ]

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
        adjacent = self._phrase_docs(schema.TEXT, parts, printed.mask)
        if not adjacent.any():
            return match
        return any_of([match, Match(adjacent, printed.scores * adjacent)])

    def _gene_names_match(self, name: str) -> Match:
        """Figures with ``name`` as a gene symbol or printed name, or as an Entrez ID; and
        for a name written as genes are ("HER2", "p21", "c-Myc", not "liver"), the
        figures listing the genes NCBI Gene knows by it, where no figure prints it."""
        key = name_key(name)
        fields = [(schema.GENE, key, GENE_BOOST), (schema.ALIAS, key, GENE_BOOST)]
        if name.isdigit():
            fields.append((schema.ENTREZ, name.lstrip("0"), GENE_BOOST))
        symbols = self._genes_named(name) if looks_like_gene(name) else []
        for symbol in symbols:
            gene_key = name_key(symbol)  # listed by symbol, or as a gene keyword
            fields += [(schema.GENE, gene_key, GENE_BOOST), (schema.ALIAS, gene_key, GENE_BOOST)]
        match = self._terms(fields)
        if symbols and match.any():  # say which genes it was read as
            self.explained.genes.append({"value": name, "symbols": symbols})
        return match

    def _genes_named(self, name: str) -> list[str]:
        """The symbols of the genes ``name`` names (:func:`resolve_gene`: as the figures
        print it, else as NCBI Gene knows it), those in the index; a name NCBI gives to
        several genes is read as those in the index, and the notes say so."""
        found = [m for m in resolve_gene(self.snap, name) if m.figures or m.known_from != "ncbi"]
        if found and found[0].known_from == "ncbi":
            named = self.snap.lexicon.in_nomenclature(name)
            if len(named) > len(found):
                kept = {m.symbol for m in found}
                self.explained.notes.append(
                    f"{name} names {len(named)} genes in NCBI Gene: searched as those in the "
                    f"index, {', '.join(m.symbol for m in found)} "
                    f"(not {', '.join(g.symbol for g in named if g.symbol not in kept)})"
                )
        return [m.symbol for m in found]

    def _all_words(self, stems: list[str], *, title: bool, text: bool = True) -> Match:
        """Documents holding every stem (each in text or title), BM25 summed."""
        self.explained.stems.update(stems)
        matches = []
        for stem in stems:
            fields = [(schema.TEXT, stem, 1.0)] if text else []
            if title:
                fields.append((schema.TITLE, stem, TITLE_BOOST))
            matches.append(self._terms(fields))
        return all_of(matches)  # type: ignore[return-value]  # never empty

    def _phrase(self, node: q.Phrase) -> Match | None:
        words = terms(node.text, self.is_gene_name)  # keep repeats: positions matter
        stems = list(dict.fromkeys(words))
        if len(stems) <= 1:
            return self._word(q.Word(node.text, node.pos))
        both = self._all_words(stems, title=True)
        mask = self._phrase_docs(schema.TEXT, words, both.mask)
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
            found = self.snap.expand_prefix(field_name, prefix, self.budget.prefix_room() + 1)
            self.budget.spend_prefix_terms(label, len(found), pos)
            expanded.append((field_name, found))
        for field_name, found in expanded:
            ids = [self.snap.postings(field_name, t)[0] for t in found]
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
        if name in lookups.FIELDS:
            found = lookups.in_field(self.snap, node)
            if found is None:
                return Match(np.zeros(self.n, dtype=bool))
            self.explained.lookups.append(found)
            return Match(found.mask(self.n))
        return Match(facet_mask(self.snap, name, [value], prefix=node.prefix))

    def _gene_field(self, value: str, prefix: bool) -> Match:
        key = name_key(value)
        if prefix:
            return self._prefix_match([(schema.GENE, key), (schema.ALIAS, key)])
        symbols = [m.symbol for m in resolve_gene(self.snap, value)]
        self.explained.genes.append({"value": value, "symbols": symbols})
        self.explained.stems.update(self._analyze(value))
        keys = [name_key(s) for s in symbols]
        fields = [(f, k, GENE_BOOST) for k in keys for f in (schema.GENE, schema.ALIAS)]
        return self._terms([*fields, (schema.ALIAS, name_key(typed_name(value)), GENE_BOOST)])

    # -- scoring --------------------------------------------------------------------------

    def _terms(self, fields: list[tuple[str, str, float]]) -> Match:
        """Documents holding any of the (field, term, boost) triples; BM25 summed. A match
        of few documents is sparse (see :class:`Match`)."""
        found = [(f, boost, *self.snap.postings(f, term)) for f, term, boost in fields]
        found = [posted for posted in found if len(posted[2])]
        if not found:  # most of a query's lookups (gene names of a plain word...)
            return no_documents(self.n)
        if sum(len(posted[2]) for posted in found) * SPARSE_BELOW <= self.n:
            return any_of(  # type: ignore[return-value]  # never empty
                [
                    Match.of_docs(
                        self.n, ids, ids, bm25(self.snap, field_name, ids, tf) * np.float32(boost)
                    )
                    for field_name, boost, ids, tf in found
                ]
            )
        mask = np.zeros(self.n, dtype=bool)
        scores = np.zeros(self.n, dtype=np.float32)
        for field_name, boost, ids, tf in found:
            mask[ids] = True
            scores[ids] += bm25(self.snap, field_name, ids, tf) * np.float32(boost)
        return Match(mask, scores)
