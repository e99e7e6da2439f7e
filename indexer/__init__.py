"""Read PFOCR figure records and build the Whoosh search index."""

__version__ = "0.1.0"
