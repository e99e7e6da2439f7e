"""Autocomplete over the index's names, and "did you mean" corrections from its vocabulary."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from indexer.analysis import name_key
from indexer.index import schema
from indexer.index.arrays import Name
from server.search import query as q
from server.search.genes.resolve import resolve_gene
from server.search.snapshot import Snapshot
from server.search.terms import analyze

# Did-you-mean is a hint: it looks up a few unknown words, for a bounded time, then stops.
MAX_CORRECTED_WORDS = 4
CORRECTION_SECONDS = 0.05  # no word is looked up after this; the one under way finishes


def complete(snap: Snapshot, prefix: str, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` names of the generation's autocomplete table (written by the build)
    whose key starts with ``prefix`` folded alike, most figures first (then by key and
    kind, the table's order)."""
    folded = name_key(prefix)
    if not folded:
        return []
    names = snap.arrays.suggest
    lo, hi = names.starting_with(folded)
    if hi <= lo:
        return []
    window = names.figures[lo:hi]
    top = np.argpartition(-window, limit - 1)[:limit] if hi - lo > limit else np.arange(hi - lo)
    ranked = sorted(top.tolist(), key=lambda i: (-window[i], i))
    return [_suggestion(names.row(lo + i)) for i in ranked]


def _suggestion(name: Name) -> dict[str, Any]:
    return {"text": name.text, "kind": name.kind, "figures": name.figures, **name.extra}


def corrections(
    snap: Snapshot, text: str, tree: q.Node | None, notes: list[str] | None = None
) -> str | None:
    """``text`` with each unknown word replaced by the closest frequent index term, or None.

    Only the first ``MAX_CORRECTED_WORDS`` unknown words are looked up, within about
    ``CORRECTION_SECONDS``; when it stops early it says so in ``notes``."""
    replaced: list[tuple[int, int, str]] = []
    unknown = [leaf for leaf in q.words_of(tree) if _is_unknown(snap, leaf)]
    deadline = time.monotonic() + CORRECTION_SECONDS
    for looked, leaf in enumerate(unknown):
        if looked == MAX_CORRECTED_WORDS or time.monotonic() > deadline:
            if notes is not None:
                notes.append(
                    f"did you mean: only the first {looked} of {len(unknown)} unknown words "
                    "were looked up; check the spelling of the others"
                )
            break
        best = _closest(snap, leaf.text)
        if best and best.casefold() != leaf.text.casefold():
            replaced.append((leaf.pos, leaf.pos + len(leaf.text), best))
    if not replaced:
        return None
    out, cursor = [], 0
    for start, end, word in sorted(replaced):
        out.append(text[cursor:start])
        out.append(word)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def has_unknown_words(snap: Snapshot, tree: q.Node | None) -> bool:
    """Whether :func:`corrections` has anything to look up in ``tree``."""
    return any(_is_unknown(snap, leaf) for leaf in q.words_of(tree))


def _is_unknown(snap: Snapshot, leaf: q.Node) -> bool:
    """A word of the query that matches no indexed word nor printed alias."""
    if not isinstance(leaf, q.Word):
        return False
    stems = analyze(leaf.text)
    if not stems or any(_known(snap, stem) for stem in stems):
        return False
    return not snap.postings(schema.ALIAS, leaf.text.casefold())[0].size


def _known(snap: Snapshot, stem: str) -> bool:
    return bool(
        snap.postings(schema.TEXT, stem)[0].size or snap.postings(schema.TITLE, stem)[0].size
    )


def _closest(snap: Snapshot, word: str) -> str | None:
    folded = word.strip().casefold()
    if len(folded) < 3:
        return None
    maxdist = 1 if len(folded) < 5 else 2
    candidates: list[tuple[int, int, str]] = []
    for stem in analyze(word)[:1]:
        # Two letters shared: the word list of 100k figures is searched in ~0.1 s, not ~1 s
        for term in snap.terms_within(schema.TEXT, stem, maxdist, prefix=2):
            word = snap.spelling.get(term, term)
            candidates.append((_distance(stem, term), -snap.doc_frequency(schema.TEXT, term), word))
    for term in snap.terms_within(schema.GENE, folded, maxdist):
        matches = resolve_gene(snap, term)
        display = matches[0].symbol if matches else term
        candidates.append(
            (_distance(folded, term), -snap.doc_frequency(schema.GENE, term), display)
        )
    return min(candidates)[2] if candidates else None


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
