"""The most work one query may ask for: past it, a clear 400 on ``q``, never a slow answer.

:class:`Budget` counts terms, prefix expansions, the postings its words read and the
positions its phrases read. :meth:`Budget.check` refuses, before any work, what the tree
and the index's term counts tell; prefix expansions are counted as they are expanded.
Past a lower line a query is *costly*: it waits for its turn (``SearchService``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indexer.index import schema
from server.search import query as q
from server.search.models import InvalidParameter
from server.search.snapshot import Snapshot
from server.search.terms import analyze, prefix_parts

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
class Budget:
    """The most work one query may ask for, and what it has used."""

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
        self.prefixes = [str(leaf) for leaf in leaves if is_prefix(leaf)]
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


def is_prefix(leaf: q.Node) -> bool:
    return isinstance(leaf, q.Prefix) or (isinstance(leaf, q.Field) and leaf.prefix)
