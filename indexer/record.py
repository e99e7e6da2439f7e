"""The PFOCR figure record: its clean model and the rules that turn raw YAML into it.

This module owns the record schema. Two generations of records exist (see
``sample_data/README.md``); both normalise to one :class:`Figure`. Placeholders
(``NA``, ``.na.character``, empty strings) always mean "missing".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from indexer.errors import RecordError

PLACEHOLDERS = frozenset({"", "na", ".na.character", "n/a", "none", "null", ".na"})
FIGID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
PMC_FIGURE_URL = "https://www.ncbi.nlm.nih.gov{figlink}"
PMC_ARTICLE_URL = "https://www.ncbi.nlm.nih.gov/pmc/articles/{pmcid}/"
# NCBI's /pmc/articles/<pmcid>/bin/<file> links stopped working in October 2024; Europe PMC
# serves the same files. The web app can override it (PFOCR_IMAGE_URL).
PMC_IMAGE_URL = "https://europepmc.org/articles/{pmcid}/bin/{filename}"
# The PFOCR site's permanent link of a figure (its help page), and an NDEx network's page.
PFOCR_FIGURE_URL = "https://pfocr.wikipathways.org/figures/{figid}.html"
NDEX_NETWORK_URL = "https://www.ndexbio.org/viewer/networks/{uuid}"
NDEX_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Printed gene words carry OCR punctuation: "(Src", "AR*", "Ga12,Gaq".
ALIAS_SPLIT = re.compile(r"[,;/]+|\s+")
ALIAS_STRIP = "()[]{}*\"'.:!?<>"
# Limits, from the real records with a wide margin (README, "Record limits"): a record
# beyond one is refused, so that one bad record cannot make result pages huge or slow.
MAX_CHARS = {
    "figid": 200,
    "figid_alias": 200,
    "figtitle": 2_000,
    "papertitle": 2_000,
    "reftext": 2_000,
    "caption": 20_000,
}
MAX_SHORT_CHARS = 500  # any other text: a DOI, a journal, a keyword, a gene's word...
MAX_ITEMS = {
    "genes": 2_000,
    "schema-jsonld.keywords": 2_000,
    "chemicals": 1_000,
    "diseases": 1_000,
    "annotations": 1_000,
    "keywords": 500,
    "organisms": 200,
    "organisms_ner": 200,
}
_SHORTEST_LIMIT = min(MAX_SHORT_CHARS, *MAX_CHARS.values())
_FROM_RECORD = object()
_NOT_TEXT = object()


class _Pickled:
    """Pickles as the constructor's arguments: half the cost of the default for a slotted
    dataclass, and a build spills every figure to disk once."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return type(self), tuple(getattr(self, name) for name in self.__dataclass_fields__)


@dataclass(slots=True)
class Gene(_Pickled):
    """One gene of a figure: the resolved HGNC symbol, its Entrez ID and what was printed.

    ``aliases`` are names that stand for this gene alone (the matched symbol, or a
    printed word that is one name); ``printed`` is the figure's text as OCR read it,
    which may name several genes at once ("p53,c-Myc,").
    """

    symbol: str
    entrez: str | None = None
    aliases: list[str] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Term(_Pickled):
    """A chemical or disease: its name and MeSH identifier where there is one."""

    name: str
    mesh_id: str | None = None


@dataclass(slots=True)
class Figure(_Pickled):
    """One figure record, clean. ``figid_alias`` is the short name other PFOCR tools use
    (``PMC7513516__F1``: the paper's PMCID and the figure's number); ``ndex`` the UUID of
    the figure's network at NDEx, lower-cased."""

    figid: str
    figid_alias: str | None = None
    pmcid: str | None = None
    number: str | None = None
    figtype: str | None = None
    figtitle: str | None = None
    caption: str | None = None
    papertitle: str | None = None
    reftext: str | None = None
    year: int | None = None
    doi: str | None = None
    journal: str | None = None
    publisher: str | None = None
    filename: str | None = None
    figlink: str | None = None
    organisms: list[str] = field(default_factory=list)
    organisms_source: str | None = None
    genes: list[Gene] = field(default_factory=list)
    gene_keywords: list[str] = field(default_factory=list)
    chemicals: list[Term] = field(default_factory=list)
    diseases: list[Term] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    pathway_score: float | None = None
    ndex: str | None = None

    @property
    def article_url(self) -> str | None:
        return PMC_ARTICLE_URL.format(pmcid=self.pmcid) if self.pmcid else None

    @property
    def figure_url(self) -> str | None:
        return PMC_FIGURE_URL.format(figlink=self.figlink) if self.figlink else None

    @property
    def image_url(self) -> str | None:
        if self.pmcid and self.filename:
            return PMC_IMAGE_URL.format(pmcid=self.pmcid, filename=self.filename)
        return None

    @property
    def ndex_url(self) -> str | None:
        return NDEX_NETWORK_URL.format(uuid=self.ndex) if self.ndex else None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage and JSON; hand-written because ``asdict`` deep-copies."""
        data = {name: getattr(self, name) for name in _FIGURE_FIELDS}
        data["genes"] = [
            {"symbol": g.symbol, "entrez": g.entrez, "aliases": g.aliases, "printed": g.printed}
            for g in self.genes
        ]
        data["chemicals"] = [{"name": t.name, "mesh_id": t.mesh_id} for t in self.chemicals]
        data["diseases"] = [{"name": t.name, "mesh_id": t.mesh_id} for t in self.diseases]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Figure:
        values = dict(data)
        values["genes"] = [Gene(**g) for g in values.get("genes", [])]
        values["chemicals"] = [Term(**t) for t in values.get("chemicals", [])]
        values["diseases"] = [Term(**t) for t in values.get("diseases", [])]
        return cls(**values)


_FIGURE_FIELDS = tuple(f.name for f in fields(Figure))


def _clean_text(value: Any) -> Any:
    """Text with its white space collapsed; None if missing; ``_NOT_TEXT`` if no text at all."""
    if type(value) is str:  # nearly always: the fast path
        known = _CLEAN_SHORT_TEXT.get(value, _NOT_TEXT)
        if known is not _NOT_TEXT:
            return known
        text: str | None = " ".join(value.split())
        if text.casefold() in PLACEHOLDERS:
            text = None
        if len(value) <= _SHORT_TEXT and len(_CLEAN_SHORT_TEXT) < _SHORT_TEXTS_KEPT:
            _CLEAN_SHORT_TEXT[value] = text
        return text
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return _NOT_TEXT  # NaN and infinity included: stored, they would not be JSON
    return str(value)


# Short texts (gene words and symbols, sources, keywords) repeat across records: their
# clean forms are remembered, which made reading records a tenth faster.
_CLEAN_SHORT_TEXT: dict[str, str | None] = {}
_SHORT_TEXT = 40
_SHORT_TEXTS_KEPT = 200_000


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().casefold() in PLACEHOLDERS)


def normalize(raw: Any, location: str) -> Figure:
    """Validate one raw record and return its clean :class:`Figure`, or raise ``RecordError``."""
    if not isinstance(raw, Mapping):
        kind = type(raw).__name__ if raw is not None else "empty"
        raise RecordError(location, None, f"not a record: expected a mapping of fields, got {kind}")
    reader = _FieldReader(raw, location)
    figid = reader.text("figid")
    if figid is None:
        raise RecordError(location, "figid", "missing figid")
    if not FIGID_PATTERN.match(figid):
        raise RecordError(
            location, "figid", f"invalid figid {figid!r}: use letters, digits, '_', '-', '.'"
        )
    organisms, organisms_source = reader.organisms()
    return Figure(
        figid=figid,
        figid_alias=reader.figid_alias(figid),
        pmcid=reader.text("pmcid"),
        number=reader.text("number"),
        figtype=reader.text("figtype"),
        figtitle=reader.text("figtitle"),
        caption=reader.text("caption"),
        papertitle=reader.text("papertitle"),
        reftext=reader.text("reftext"),
        year=reader.year(),
        doi=reader.text("doi"),
        journal=reader.text("journal_title"),
        publisher=reader.text("publisher_name"),
        filename=reader.text("filename"),
        figlink=reader.figlink(),
        organisms=organisms,
        organisms_source=organisms_source,
        genes=reader.genes(),
        gene_keywords=reader.gene_keywords(),
        chemicals=reader.terms("chemicals"),
        diseases=reader.terms("diseases"),
        annotations=reader.annotations(),
        keywords=reader.keywords(),
        pathway_score=reader.score(),
        ndex=reader.ndex(),
    )


class _FieldReader:
    """Reads typed, placeholder-free values out of one raw record, naming the field on error."""

    def __init__(self, raw: Mapping[str, Any], location: str) -> None:
        self.raw = raw
        self.location = location

    def fail(self, field_name: str, problem: str) -> RecordError:
        return RecordError(self.location, field_name, problem)

    def text(self, name: str, value: Any = _FROM_RECORD) -> str | None:
        """Clean text of field ``name`` (or of ``value``, a nested item named ``name``)."""
        if value is _FROM_RECORD:
            value = self.raw.get(name)
        if type(value) is str and len(value) > _SHORTEST_LIMIT:  # rare: a call saved
            self.check_length(name, value, MAX_CHARS.get(name, MAX_SHORT_CHARS))
        text = _clean_text(value)
        if text is _NOT_TEXT:
            raise self.fail(name, f"expected text, got {_kind(value)}")
        return text

    def check_length(self, name: str, text: str, limit: int) -> None:
        if len(text) > limit:
            raise self.fail(
                name, f"too long: {len(text):,} characters, more than the {limit:,} allowed"
            )

    def check_count(self, name: str, items: list[Any]) -> None:
        limit = MAX_ITEMS.get(name)
        if limit is not None and len(items) > limit:
            raise self.fail(
                name, f"too many: {len(items):,} items, more than the {limit:,} allowed"
            )

    def year(self) -> int | None:
        value = self.raw.get("year")
        if is_missing(value):
            return None
        text = str(value).strip()
        if isinstance(value, bool) or not re.fullmatch(r"\d{4}", text):
            raise self.fail("year", f"expected a four-digit year such as 2015, got {value!r}")
        return int(text)

    def score(self) -> float | None:
        for name in ("automl_pathway", "pathway_score"):
            value = self.raw.get(name)
            if is_missing(value):
                continue
            try:
                if isinstance(value, bool):
                    raise TypeError
                number = float(value)
            except (TypeError, ValueError):
                raise self.fail(name, f"expected a number, got {value!r}") from None
            if not math.isfinite(number):  # NaN would make the API write invalid JSON
                raise self.fail(name, f"expected a finite number, got {value!r}")
            return number
        return None

    def figid_alias(self, figid: str) -> str | None:
        """The figure's other name (``PMC7513516__F1``), spelled as a figid must be; None
        when it is missing or the figid itself."""
        alias = self.text("figid_alias")
        if alias is None or alias == figid:
            return None
        if not FIGID_PATTERN.match(alias):
            raise self.fail(
                "figid_alias",
                f"invalid figid_alias {alias!r}: use letters, digits, '_', '-', '.'",
            )
        return alias

    def ndex(self) -> str | None:
        """The UUID of the figure's NDEx network, lower-cased (NDEx prints them so)."""
        uuid = self.text("ndex")
        if uuid is None:
            return None
        if not NDEX_UUID.match(uuid.lower()):
            raise self.fail(
                "ndex",
                f"expected the UUID of an NDEx network, such as "
                f"fa9b81a0-df34-11ea-99da-0ac135e8bacf, got {uuid!r}",
            )
        return uuid.lower()

    def figlink(self) -> str | None:
        link = self.text("figlink")
        if link is None:
            return None
        return "/" + link.strip("/") + "/"

    def string_list(
        self, name: str, value: Any, unique: Callable[[list[str]], list[str]] | None = None
    ) -> list[str]:
        """A list of strings, a single string, or missing; placeholders dropped, order kept,
        repeats dropped by ``unique`` (ignoring case unless told otherwise). Numbers are
        refused: in a list of names, `42` is a mistake, not a name."""
        if is_missing(value) or value == []:
            return []
        is_list = isinstance(value, list)
        items = value if is_list else [value]
        self.check_count(name, items)
        result = []
        for index, item in enumerate(items):
            if type(item) is str and len(item) > MAX_SHORT_CHARS:
                self.check_length(f"{name}[{index}]" if is_list else name, item, MAX_SHORT_CHARS)
            text = _clean_text(item) if type(item) is str or item is None else _NOT_TEXT
            if text is _NOT_TEXT:
                where = f"{name}[{index}]" if is_list else name
                raise self.fail(where, f"expected text, got {_kind(item)}")
            if text is not None:
                result.append(text)
        return (unique or _unique)(result)

    def organisms(self) -> tuple[list[str], str | None]:
        for name in ("organisms", "organisms_ner"):
            raw = self.raw.get(name)
            if isinstance(raw, str):
                raw = raw.split(",")
            names = self.string_list(name, raw)
            if names:
                return names, name
        return [], None

    def genes(self) -> list[Gene]:
        raw = self.raw.get("genes")
        if raw is None or raw == []:
            return []
        if not isinstance(raw, list):
            raise self.fail("genes", f"expected a list of genes, got {_kind(raw)}")
        self.check_count("genes", raw)
        genes: dict[str, Gene] = {}
        for index, item in enumerate(raw):
            where = f"genes[{index}]"
            if not isinstance(item, Mapping):
                raise self.fail(
                    where,
                    f"expected a mapping with word, symbol, hgnc_symbol, entrez, got {_kind(item)}",
                )
            symbol = self.text(f"{where}.hgnc_symbol", item.get("hgnc_symbol"))
            if symbol is None:
                raise self.fail(f"{where}.hgnc_symbol", "missing hgnc_symbol")
            entrez = self.text(f"{where}.entrez", item.get("entrez"))
            if entrez is not None and not entrez.isdigit():
                raise self.fail(
                    f"{where}.entrez", f"expected a numeric Entrez Gene ID, got {entrez!r}"
                )
            gene = genes.setdefault(symbol, Gene(symbol, entrez))
            gene.entrez = gene.entrez or entrez
            word = self.text(f"{where}.word", item.get("word"))
            matched = self.text(f"{where}.symbol", item.get("symbol"))
            if word:
                gene.printed.append(word)
                pieces = printed_pieces(word)
                if len(pieces) == 1:
                    gene.aliases.append(pieces[0])
            if matched:
                gene.aliases.append(matched)
        for gene in genes.values():
            gene.aliases = _unique(gene.aliases)
            gene.printed = _unique(gene.printed)
        return list(genes.values())

    def gene_keywords(self) -> list[str]:
        """Gene-like terms of ``schema-jsonld.keywords``: the only genes newer records list.

        Only exact repeats are dropped: records list a mouse symbol and the HGNC one
        (``Akt1``, ``AKT1``) and the lexicon matches symbols exactly, so folding case
        here would lose whichever spelling came second."""
        jsonld = self.raw.get("schema-jsonld")
        if not isinstance(jsonld, Mapping):
            return []
        keywords = jsonld.get("keywords")
        return self.string_list("schema-jsonld.keywords", keywords, _unique_exact)

    def terms(self, name: str) -> list[Term]:
        raw = self.raw.get(name)
        if raw is None or raw == []:
            return []
        if not isinstance(raw, list):
            raise self.fail(name, f"expected a list, got {_kind(raw)}")
        self.check_count(name, raw)
        terms: dict[str, Term] = {}
        for index, item in enumerate(raw):
            where = f"{name}[{index}]"
            if not isinstance(item, Mapping):
                raise self.fail(
                    where, f"expected a mapping with word, source, identifier, got {_kind(item)}"
                )
            word = self.text(f"{where}.word", item.get("word"))
            if word is None:
                continue
            identifier = self.text(f"{where}.identifier", item.get("identifier"))
            term = terms.setdefault(word.casefold(), Term(word, identifier))
            term.mesh_id = term.mesh_id or identifier
        return list(terms.values())

    def annotations(self) -> list[str]:
        raw = self.raw.get("annotations")
        if raw is None or raw == []:
            return []
        if not isinstance(raw, list):
            raise self.fail("annotations", f"expected a list, got {_kind(raw)}")
        self.check_count("annotations", raw)
        names = []
        for index, item in enumerate(raw):
            if isinstance(item, Mapping):  # ontology term objects: take their label
                item = item.get("name") or item.get("label") or item.get("id")
            names.extend(self.string_list(f"annotations[{index}]", item))
        self.check_count("annotations", names)  # items may be lists themselves
        return _unique(names)

    def keywords(self) -> list[str]:
        raw = self.raw.get("keywords")
        if isinstance(raw, str):
            raw = raw.split("|")
        return self.string_list("keywords", raw)


def printed_pieces(word: str) -> list[str]:
    """The names in a printed gene word: "(Src" -> ["Src"], "p53,c-Myc," -> ["p53", "c-Myc"]."""
    pieces = (p.strip(ALIAS_STRIP) for p in ALIAS_SPLIT.split(word))
    return _unique([p for p in pieces if p])


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for item in items:
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result


def _unique_exact(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"[:80]
