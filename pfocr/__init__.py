"""The ``pfocr`` command, above both halves of the product: it drives the indexer
(build, update, check, stats) and starts the server (serve)."""
