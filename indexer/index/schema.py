"""The index schema, shared by the indexer and the server.

Field names live here and nowhere else. Text is indexed twice: once in ``text`` (every
searchable word of the figure, for recall) and once in ``title`` (figure and paper
titles, so a title match can weigh more). Genes, organisms, diseases and the other
facets are exact-match fields: one token per whole value, lower-cased, never stemmed
or split, so "IL-6", "NF-kB" and "Mus musculus" stay whole. So are the identifiers a
figure is looked up by: its names (figid and PFOCR alias), its paper's PMCID and DOI,
and its NDEx network. Gene names (``gene`` and ``alias``) are indexed by their
``name_key``, so "NF-κB", "NF-kB" and "NFKB" are one term; ``title_key`` holds each
title's words, folded, to find a title typed exactly.

Each figure's facet values (tab-joined, original case) go to the search arrays alone,
which count them (``FACET_KEYS``); the stored record holds them too.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Any

from whoosh import analysis, columns, fields

from indexer.analysis import (
    EnglishAnalyzer,
    NameAnalyzer,
    NameText,
    SymbolText,
    ValueAnalyzer,
    name_terms,
    title_key,
)
from indexer.index.records import RecordCodec
from indexer.lexicon import printed_names, typed_name
from indexer.record import Figure

PLAIN_RECORDS = RecordCodec()  # records compressed without a dictionary

# 2: record and source in columns, title without positions; 3: Greek letters folded, gene
# names by name_key, a figure's own short gene names unstemmed, title_key; 4: Snowball's
# English stemmer, -sis nouns as their -tic adjectives, plurals of acronyms; figid_alias
# and ndex in the record, the lookup fields (names, pmcid, doi, ndex), the ndex facet;
# 5: the search arrays (``indexer.index.arrays``), text positions there and not in Whoosh;
# 6: facet values in the search arrays alone, not in Whoosh columns (23 MB at 100k);
# 7: stored records' genes, chemicals and diseases packed as tuples (``records.pack``)
SCHEMA_VERSION = 7

FIGID = "figid"
TEXT = "text"
TITLE = "title"
TITLE_KEY = "title_key"  # figure and paper titles, each whole (``title_key``)
GENE = "gene"  # HGNC symbols
ALIAS = "alias"  # every printed name of a gene, and unresolved gene keywords
ENTREZ = "entrez"
ORGANISM = "organism"
DISEASE = "disease"
CHEMICAL = "chemical"
ANNOTATION = "annotation"
MESH = "mesh"  # MeSH IDs of diseases and chemicals
YEAR = "year"
# Identifiers, each whole and lower-cased, for exact lookups (``server.search.lookups``).
NAMES = "names"  # the figid and the figid_alias
PMCID = "pmcid"
DOI = "doi"
NDEX = "ndex"  # the NDEx network's UUID
SOURCE = "source"  # where the record was read from, for `pfocr update`
DIGEST = "digest"  # hash of the record's source text, for `pfocr update`
RECORD = "record"  # the whole clean record (``indexer.index.records``), for result pages

# Fields of whole values that only the search arrays index (``indexer.index.arrays``),
# looked up exactly: each figure's own titles, names and identifiers, which Whoosh's term
# table would hold as a few hundred thousand terms of one posting each (a third of it).
# The stored records are their record.
LOOKUP_FIELDS = (TITLE_KEY, NAMES, PMCID, DOI, NDEX)

# Fields whose positions the search arrays keep, for phrases.
PHRASE_FIELDS = (TEXT,)
# Fields whose BM25 normalises by the field's length (the others are exact values).
LENGTH_NORMALISED_FIELDS = (TEXT, TITLE)

# Facet name -> the exact-match field of its values ("ndex": "true" or "false", whether
# the figure has a network in NDEX).
FACET_FIELDS = {
    "organism": ORGANISM,
    "gene": GENE,
    "disease": DISEASE,
    "chemical": CHEMICAL,
    "annotation": ANNOTATION,
    "ndex": NDEX,
}
VALUE_SEPARATOR = "\t"  # between a document's values of a facet, in its ``FACET_KEYS`` key
# Facet name -> the key of a document holding the figure's display values of it, which
# the search arrays alone keep (as ``LOOKUP_FIELDS``): Whoosh's columns of them weighed
# 23 MB at 100k, and nothing read them but the build.
FACET_KEYS = {facet: f"facet_{facet}" for facet in FACET_FIELDS}
# Every key of a document that is not a Whoosh field.
ARRAYS_ONLY = (*LOOKUP_FIELDS, *FACET_KEYS.values())


def text_analyzer() -> analysis.Analyzer:
    """English words, lower-cased, accents folded, stemmed; single letters kept (β, p)."""
    return EnglishAnalyzer()


def value_analyzer() -> analysis.Analyzer:
    """Whole values (tab-separated), lower-cased: one token per value."""
    return ValueAnalyzer()


def name_analyzer() -> analysis.Analyzer:
    """Whole gene names (tab-separated): one token per name, its ``name_key``."""
    return NameAnalyzer()


def build_schema() -> fields.Schema:
    text = text_analyzer()
    values = value_analyzer()

    names = name_analyzer()

    def exact(analyzer: analysis.Analyzer = values) -> fields.FieldType:
        return fields.KEYWORD(analyzer=analyzer, scorable=True)

    schema = fields.Schema(
        **{
            FIGID: fields.COLUMN(columns.VarBytesColumn()),
            # Phrases are matched in TEXT, from the positions in the search arrays
            # (``indexer.index.arrays``): Whoosh keeps none, as no query reads them there.
            TEXT: fields.TEXT(analyzer=text, phrase=False),
            TITLE: fields.TEXT(analyzer=text, phrase=False),
            GENE: exact(names),
            ALIAS: exact(names),
            ENTREZ: exact(),
            ORGANISM: exact(),
            DISEASE: exact(),
            CHEMICAL: exact(),
            ANNOTATION: exact(),
            MESH: exact(),
            YEAR: fields.NUMERIC(int, bits=16, signed=False, sortable=True),
            SOURCE: fields.COLUMN(columns.VarBytesColumn()),
            DIGEST: fields.COLUMN(columns.VarBytesColumn()),
            # A plain column, not a Whoosh stored field: those are zlib-compressed, which
            # took a tenth of the build's time.
            RECORD: fields.COLUMN(columns.VarBytesColumn()),
        }
    )
    return schema


def title_term(title: str) -> str:
    """How a title typed or quoted whole is looked up: a hash of its ``title_key`` (its
    words, folded), 16 hex digits, so the index holds no title twice."""
    return blake2b(title_key(title).encode("utf-8"), digest_size=8).hexdigest()


def facet_values(figure: Figure) -> dict[str, list[str]]:
    """The display values of each facet for one figure."""
    return {
        "organism": figure.organisms,
        "gene": [gene.symbol for gene in figure.genes],
        "disease": [term.name for term in figure.diseases],
        "chemical": [term.name for term in figure.chemicals],
        "annotation": figure.annotations,
        "ndex": ["true" if figure.ndex else "false"],
    }


def searchable_text(figure: Figure) -> str:
    parts = [
        figure.figtitle,
        figure.papertitle,
        figure.caption,
        " ".join(figure.keywords),
        figure.reftext,
        figure.journal,
    ]
    return "\n".join(p for p in parts if p)


def gene_names(figure: Figure) -> dict[str, tuple[str, tuple[str, str] | None]]:
    """Every name the figure's genes go by: symbols, aliases, gene keywords, and each
    printed word whole ("ERK1/2") and as the names it stands for ("ERK1", "ERK2"); by
    ``name_key``, each with its symbol term (``name_terms``)."""
    names = [gene.symbol for gene in figure.genes] + figure.gene_keywords
    for gene in figure.genes:
        names += gene.aliases
        for word in gene.printed:
            names.append(typed_name(word))
            names += printed_names(word)
    # One name per alias key: spellings that fold alike ("E2F4", "E2f4") are one term, and
    # a repeated term would count as a higher term frequency.
    by_key: dict[str, tuple[str, tuple[str, str] | None]] = {}
    for name in dict.fromkeys(names):  # names repeat: a symbol is often also a keyword
        if name:
            key, symbol = name_terms(name)
            if key not in by_key:
                by_key[key] = (name, symbol)
    return by_key


def document(
    figure: Figure, source: str, digest: str, records: RecordCodec = PLAIN_RECORDS
) -> dict[str, Any]:
    """The Whoosh document for one figure; ``records`` stores its record (with the
    generation's dictionary)."""
    join = VALUE_SEPARATOR.join
    # A figure is found by every name it prints, even where one word names two genes,
    # and its own short names are not stemmed into English words in its text.
    names = gene_names(figure)
    symbols = dict(symbol for _, symbol in names.values() if symbol)
    titles = [t for t in (figure.figtitle, figure.papertitle) if t]
    mesh = [t.mesh_id for t in (*figure.diseases, *figure.chemicals) if t.mesh_id]
    doc: dict[str, Any] = {
        FIGID: figure.figid.encode("utf-8"),
        TEXT: SymbolText(searchable_text(figure), symbols),
        TITLE: SymbolText(" ".join(titles), symbols),
        TITLE_KEY: join(title_term(t) for t in titles),
        GENE: join(gene.symbol for gene in figure.genes),
        ALIAS: NameText([name for name, _ in names.values()], list(names)),
        ENTREZ: join(gene.entrez for gene in figure.genes if gene.entrez),
        ORGANISM: join(figure.organisms),
        DISEASE: join(t.name for t in figure.diseases),
        CHEMICAL: join(t.name for t in figure.chemicals),
        ANNOTATION: join(figure.annotations),
        MESH: join(mesh),
        NAMES: join(name for name in (figure.figid, figure.figid_alias) if name),
        PMCID: figure.pmcid or "",
        DOI: figure.doi or "",
        NDEX: figure.ndex or "",
        SOURCE: source.encode("utf-8"),
        DIGEST: digest.encode("ascii"),
        RECORD: records.encode(figure.as_dict()),
    }
    if figure.year is not None:
        doc[YEAR] = figure.year
    for facet, values in facet_values(figure).items():
        doc[FACET_KEYS[facet]] = join(values).encode("utf-8")
    return doc
