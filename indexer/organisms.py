"""Organism display names and NCBI taxonomy IDs from the PFOCR organism pages.

The pages (bundled in ``indexer/organisms/``) give a ``latin`` name, a ``common`` name
and an NCBI taxon ID. Several pages repeat the latin name as the common name, so a few
well-known GenBank common names fill in where the page has none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from indexer.analysis import IRREGULAR_PLURALS
from indexer.sources import parse_yaml

PAGES_DIR = Path(__file__).with_name("organisms")
TAXONOMY_URL = "https://www.ncbi.nlm.nih.gov/Taxonomy/Browser/wwwtax.cgi?id={}"

# GenBank common names, used only where an organism page has none of its own.
KNOWN_COMMON_NAMES = {
    "Homo sapiens": "human",
    "Mus musculus": "house mouse",
    "Rattus norvegicus": "Norway rat",
    "Danio rerio": "zebrafish",
    "Drosophila melanogaster": "fruit fly",
    "Saccharomyces cerevisiae": "baker's yeast",
    "Caenorhabditis elegans": "nematode",
    "Arabidopsis thaliana": "thale cress",
    "Bos taurus": "cattle",
    "Gallus gallus": "chicken",
    "Oryza sativa": "rice",
    "Allium cepa": "onion",
    "Aedes aegypti": "yellow fever mosquito",
}
# What people call them besides: a search for "mouse" or "yeast" means these.
EVERYDAY_NAMES = {
    "Mus musculus": "mouse",
    "Rattus norvegicus": "rat",
    "Saccharomyces cerevisiae": "yeast",
}
# A common name also without its qualifier: "fruit fly" is also "fly".
_QUALIFIER = re.compile(r"^(house|norway|fruit|baker's) ")


@dataclass(frozen=True, slots=True)
class Organism:
    latin: str
    common: str | None
    taxon_id: str | None

    @property
    def label(self) -> str:
        return f"{self.common} ({self.latin})" if self.common else self.latin

    @property
    def taxonomy_url(self) -> str | None:
        return TAXONOMY_URL.format(self.taxon_id) if self.taxon_id else None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "name": self.latin,
            "label": self.label,
            "taxon_id": self.taxon_id,
            "taxonomy_url": self.taxonomy_url,
        }


@cache
def known_organisms() -> dict[str, Organism]:
    """Organisms with a page, keyed by case-folded latin name."""
    organisms = {}
    for page in sorted(PAGES_DIR.glob("*.md")):
        text = page.read_text(encoding="utf-8").strip()
        data = parse_yaml(text.strip("-\n"), first_line=2)
        latin = str(data["latin"]).strip()
        common = str(data.get("common") or "").strip().strip('"')
        if not common or common.casefold() == latin.casefold():
            common = KNOWN_COMMON_NAMES.get(latin)
        organisms[latin.casefold()] = Organism(latin, common, str(data.get("ncbi") or "") or None)
    return organisms


@lru_cache(maxsize=4096)
def describe(name: str) -> Organism:
    """Return what is known of an organism named as in a record (remembered: a gene page
    describes every organism of its figures, hundreds, and facets and hits repeat them)."""
    known = known_organisms().get(name.casefold())
    if known:
        return known
    return Organism(name, KNOWN_COMMON_NAMES.get(name), None)


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
    pairs += EVERYDAY_NAMES.items()
    names = {}
    for latin, common in pairs:
        folded = common.casefold()
        names[_compact(folded)] = latin
        names[_compact(_QUALIFIER.sub("", folded))] = latin
    plurals = {plural: names[one] for plural, one in IRREGULAR_PLURALS.items() if one in names}
    names.update({f"{name}s": latin for name, latin in names.items() if name.isalpha()})
    names.update({f"{name[:-1]}ies": latin for name, latin in names.items() if name[-1] == "y"})
    names.update(plurals)  # "mice"
    return names
