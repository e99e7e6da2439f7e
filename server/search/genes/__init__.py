"""Genes: how a typed gene is read, the gene page, and gene-set enrichment.

- :mod:`.resolve`: the one reading of a typed gene (:func:`resolve_gene`), used by the
  ``gene`` filter, ``gene:`` in queries, the gene page and enrichment alike, and the
  reading of a pasted gene list (:func:`read_gene_list`);
- :mod:`.page`: the gene page (a gene's figures, years, organisms, co-occurring genes);
- :mod:`.enrichment`: which figures of a search explain a gene list, over the snapshot's
  gene arrays, with the statistics in :mod:`.stats`.
"""

from server.search.genes.resolve import resolve_gene

__all__ = ["resolve_gene"]
