"""Organism display names and NCBI taxonomy IDs from the PFOCR organism pages.

The pages (bundled in ``indexer/organisms/``) give a ``latin`` name, a ``common`` name
and an NCBI taxon ID. Several pages repeat the latin name as the common name, so a few
well-known GenBank common names fill in where the page has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

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


def describe(name: str) -> Organism:
    """Return what is known of an organism named as in a record."""
    known = known_organisms().get(name.casefold())
    if known:
        return known
    return Organism(name, KNOWN_COMMON_NAMES.get(name), None)
