"""Exact lookups: a figure by any of its names, a paper's figures by PMCID or DOI, a figure
by its NDEx network; and the step that ranks the figures a query names above the rest.

A figure's names are its figid and its PFOCR alias (``PMC7513516__F1``: the paper's PMCID
and the figure's number, the form Enrichr's and PFOCRummage's PFOCR gene sets use), each
matched whole, ignoring case. A paper is named by its PMCID, with or without "PMC", or by
its DOI, bare or as a ``doi:`` or ``https://doi.org/`` link. All are index terms of their
own fields (``indexer.index.schema``: ``names``, ``pmcid``, ``doi``, ``ndex``), so a
lookup is one postings read.

The matcher asks :func:`find` about each word of a query and :func:`in_field` about the
``figid:``, ``pmcid:`` and ``doi:`` fields; a word found is matched as those figures (as
well as by its text). A query made of nothing but identifiers found asks for those
figures: :func:`rank_first` puts them above every other match, which still follow (a
number is also an Entrez ID, a figid may be printed in a caption).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.index import schema
from indexer.record import FIGID_PATTERN
from server.search import query as q
from server.search.scoring import Match

if TYPE_CHECKING:
    from server.search.snapshot import Snapshot

# Query fields that are lookups (the parser's ``figid:``, ``pmcid:``, ``doi:``).
FIELDS = ("figid", "pmcid", "doi")
_PMCID = re.compile(r"(?:PMC)?0*([1-9][0-9]{0,9})", re.IGNORECASE)  # in pmcid:
# A word is a PMCID with its "PMC", or as a number alone from five digits on: a shorter
# number is far more often a year, a figure number or a dose than a PMCID.
_WORD_PMCID = re.compile(r"PMC0*[1-9][0-9]{0,9}|[1-9][0-9]{4,9}", re.IGNORECASE)
_DOI = re.compile(r"(?:doi:|https?://(?:dx\.)?doi\.org/)?(10\.[0-9]{4,9}/\S+)", re.IGNORECASE)
_NDEX = re.compile(
    r"(?:https?://(?:www\.)?ndexbio\.org/\S*?)?"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/?",
    re.IGNORECASE,
)
_TRAILING = ",;"  # "PMC5411695, PMC7513516": a list typed with commas


@dataclass(frozen=True)
class Lookup:
    """What one identifier of a query found: ``kind`` is ``figid``, ``figid_alias``,
    ``pmcid``, ``doi`` or ``ndex``; ``value`` the identifier as the records spell it
    (``PMC7513516``, ``PMC7513516__F1``; a DOI as typed, without its link); ``docs`` the
    figures, in figid order."""

    text: str  # as the query wrote it: a word, or a field such as ``pmcid:PMC7513516``
    kind: str
    value: str
    docs: np.ndarray

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "value": self.value,
            "figures": len(self.docs),
        }

    def mask(self, n_docs: int) -> np.ndarray:
        found = np.zeros(n_docs, dtype=bool)
        found[self.docs] = True
        return found


def figure_docs(snap: Snapshot, name: str) -> np.ndarray:
    """The figures ``name`` names, in figid order: the one whose figid it is exactly, else
    those whose figid or alias it is in any case (an alias may be repeated by mistake)."""
    docnum = snap.docnum_of(name)
    if docnum is not None:
        return np.array([docnum], dtype=np.int32)
    if not FIGID_PATTERN.match(name):
        return np.zeros(0, dtype=np.int32)
    return _in_figid_order(snap, snap.postings(schema.NAMES, name.lower())[0])


def find(snap: Snapshot, word: str) -> Lookup | None:
    """What a word of a query names, if it is an identifier found in the index: a figure
    name (with a digit in it, as every PFOCR figid has), a PMCID (``PMC7513516``, or the
    number alone), a DOI or an NDEx UUID."""
    text = word.rstrip(_TRAILING)
    if _WORD_PMCID.fullmatch(text):
        return _paper(snap, word, text)
    if _DOI.fullmatch(text):
        return _paper_by_doi(snap, word, text)
    if ndex := _NDEX.fullmatch(text):
        uuid = ndex.group(1).lower()
        return _found(word, "ndex", uuid, _term_docs(snap, schema.NDEX, uuid))
    if any(c.isdigit() for c in text):
        return _figure(snap, word, text)
    return None


def in_field(snap: Snapshot, node: q.Field) -> Lookup | None:
    """What a ``figid:``, ``pmcid:`` or ``doi:`` field names, if anything."""
    value, text = node.value.strip(), str(node)
    if node.name == "figid":
        return _figure(snap, text, value)
    if node.name == "pmcid":
        return _paper(snap, text, value) if _PMCID.fullmatch(value) else None
    return _paper_by_doi(snap, text, value) if _DOI.fullmatch(value) else None


def rank_first(tree: q.Node | None, match: Match | None, found: list[Lookup]) -> Match | None:
    """``match`` with the figures of ``found`` first, when the query is nothing but
    identifiers that were found: those figures score above every other match (in the
    order of their own text scores), and a list of identifiers finds the figures of any
    of them, whatever the operators between them."""
    if match is None or not found or not _only_identifiers(tree, found):
        return match
    named = np.zeros(len(match.mask), dtype=bool)
    for lookup in found:
        named[lookup.docs] = True
    scores = match.scores if match.scores is not None else np.zeros(len(named), np.float32)
    top = float(scores[match.mask].max()) if match.mask.any() else 0.0
    return Match(match.mask | named, scores + named * np.float32(top + 1), match.loose)


def _only_identifiers(tree: q.Node | None, found: list[Lookup]) -> bool:
    if _has_not(tree):
        return False
    named = {lookup.text for lookup in found}
    for leaf in q.leaves_of(tree):
        text = leaf.text if isinstance(leaf, q.Word | q.Phrase) else str(leaf)
        if text not in named:
            return False
    return True


def _has_not(node: q.Node | None) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, q.Not):
            return True
        if isinstance(current, q.And | q.Or):
            stack.extend(current.children)
    return False


def _figure(snap: Snapshot, text: str, name: str) -> Lookup | None:
    docs = figure_docs(snap, name)
    if not len(docs):
        return None
    figids = [snap.figids[d] for d in docs.tolist()]
    exact = [f for f in figids if f.lower() == name.lower()]
    if exact:
        return Lookup(text, "figid", exact[0], docs)
    alias = snap.records([int(docs[0])])[0].get("figid_alias") or name
    return Lookup(text, "figid_alias", alias, docs)


def _paper(snap: Snapshot, text: str, pmcid: str) -> Lookup | None:
    digits = _PMCID.fullmatch(pmcid).group(1)  # type: ignore[union-attr]
    return _found(text, "pmcid", f"PMC{digits}", _term_docs(snap, schema.PMCID, f"pmc{digits}"))


def _paper_by_doi(snap: Snapshot, text: str, link: str) -> Lookup | None:
    doi = _DOI.fullmatch(link).group(1)  # type: ignore[union-attr]
    return _found(text, "doi", doi, _term_docs(snap, schema.DOI, doi))


def _found(text: str, kind: str, value: str, docs: np.ndarray) -> Lookup | None:
    return Lookup(text, kind, value, docs) if len(docs) else None


def _term_docs(snap: Snapshot, field: str, value: str) -> np.ndarray:
    return _in_figid_order(snap, snap.postings(field, value.lower())[0])


def _in_figid_order(snap: Snapshot, docs: np.ndarray) -> np.ndarray:
    return docs[np.argsort(snap.figid_rank[docs], kind="stable")]
