"""The index format: the one place that knows how an index generation is laid out.

- ``schema``: the fields, how a figure becomes a document, and the stored record;
- ``writer``: the bulk segment writer and the commit of segments;
- ``reader``: reading a published generation back (columns, postings, records);
- ``store``: the ``index_data/`` folder and the atomic switch between generations.

Nothing outside these modules touches Whoosh's private structures.
"""
