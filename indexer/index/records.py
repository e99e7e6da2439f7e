"""Stored records: how each figure's clean record is kept in the index and read back.

A record (``Figure.as_dict()``) is stored with its genes, chemicals and diseases packed
as tuples (:func:`pack`: ``(symbol, entrez, aliases, printed)`` and ``(name, mesh_id)``,
lists as tuples), the stored form that the index's readers hand out; :func:`unpack` gives
the record back. A result page reads twenty records and the hits read their genes as
tuples: unpickling a record of dicts took about 100 microseconds under load, and with
building its genes for the page a third of an API search's time (the load mix in
process, profiled); tuples unpickle in 60% of the time and build the genes in 40%.

It is pickled and compressed with zstd, each record alone (result pages read twenty
records scattered over the index, never a run of them), with a dictionary trained on the
generation's own records: small texts compressed one by one share nothing, and the
dictionary gives that back (about 3x smaller than the pickle, and under 20 microseconds
to read). The dictionary is a file of the generation (``records.zdict``); an update
keeps it, so the records it carries over stay readable. An index too small to train one
compresses without.
"""

from __future__ import annotations

import pickle
import threading
from pathlib import Path
from typing import Any

import zstandard

DICTIONARY_FILE = "records.zdict"
# The dictionary's size: a sixteenth of its training sample, between zstd's default and
# 1 MB. Records of one corpus share much (journals, keys, gene names, phrasing) and a larger
# dictionary holds more of it: a 1 MB one made the 100k synthetic corpus's records a third
# smaller than zstd's default 110 KB; on half the bundled sample, trained on the other
# half, 200 KB did 2.5% better, and more than its sample would hold did worse.
DICTIONARY_BYTES = (112_640, 1_048_576)
DICTIONARY_SHARE = 16
TRAINING_RECORDS = 5_000  # records sampled to train it
# Level 6 makes records 8% smaller than zstd's default 3 on the bundled sample (15% on the
# 100k synthetic corpus) for 35 more microseconds a record written (about 1.5 s of a 100k
# build over two workers); 9 saves 2.5% more for as much again. Reading costs the same.
LEVEL = 6


class RecordCodec:
    """Writes and reads stored records, with the generation's dictionary (or none), from
    any number of threads."""

    def __init__(self, dictionary: bytes | None = None) -> None:
        # zstd keeps its own copy of the dictionary; the bytes given are not kept beside it
        # (0.67 MB less in every serving process at 100k).
        self._data = zstandard.ZstdCompressionDict(dictionary) if dictionary else None
        # A zstd context is not thread-safe (two threads decoding with one at once crashed
        # the process), so each thread gets its own, made on first use. The decoders share
        # the dictionary digested once, by this first one (zstd caches it in ``_data``).
        self._contexts = threading.local()
        self._decompressor()

    def _compressor(self) -> zstandard.ZstdCompressor:
        try:
            return self._contexts.compressor  # type: ignore[no-any-return]
        except AttributeError:
            made = zstandard.ZstdCompressor(level=LEVEL, dict_data=self._data)
            self._contexts.compressor = made
            return made

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        try:
            return self._contexts.decompressor  # type: ignore[no-any-return]
        except AttributeError:
            made = zstandard.ZstdDecompressor(dict_data=self._data)
            self._contexts.decompressor = made
            return made

    @property
    def dictionary(self) -> bytes | None:
        """The dictionary's bytes (copied when asked: to save it, or to send the codec to
        a worker process)."""
        return None if self._data is None else self._data.as_bytes()

    def __reduce__(self) -> tuple[Any, ...]:  # to worker processes: the dictionary alone
        return (RecordCodec, (self.dictionary,))

    @classmethod
    def trained(cls, records: list[dict[str, Any]]) -> RecordCodec:
        """A codec with a dictionary trained on ``records`` (none if they are too few)."""
        samples = [_pickled(record) for record in records]
        least, most = DICTIONARY_BYTES
        size = min(most, max(least, sum(map(len, samples)) // DICTIONARY_SHARE))
        try:
            trained = zstandard.train_dictionary(size, samples)
        except zstandard.ZstdError:  # too little to learn from: a few hundred records
            return cls()
        return cls(trained.as_bytes())

    def encode(self, record: dict[str, Any]) -> bytes:
        """The bytes that store ``record`` (a ``Figure.as_dict()``) in its stored form."""
        return self._compressor().compress(_pickled(record))

    def decode(self, stored: bytes) -> dict[str, Any]:
        """A stored record, as :func:`pack` made it (an index is trusted local data, as
        Whoosh's own stored fields are: pickled)."""
        return pickle.loads(self._decompressor().decompress(stored))

    def save(self, generation: Path) -> None:
        dictionary = self.dictionary
        if dictionary:
            (generation / DICTIONARY_FILE).write_bytes(dictionary)

    @classmethod
    def load(cls, generation: Path) -> RecordCodec:
        path = generation / DICTIONARY_FILE
        return cls(path.read_bytes() if path.exists() else None)


TERM_LISTS = ("chemicals", "diseases")


def pack(record: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a record (``Figure.as_dict()``)."""
    stored = dict(record)
    stored["genes"] = tuple(
        (g["symbol"], g.get("entrez"), tuple(g.get("aliases") or ()), tuple(g.get("printed") or ()))
        for g in record.get("genes") or ()
    )
    for name in TERM_LISTS:
        stored[name] = tuple((t["name"], t.get("mesh_id")) for t in record.get(name) or ())
    return stored


def unpack(stored: dict[str, Any]) -> dict[str, Any]:
    """The record (as ``Figure.as_dict()`` makes it) of a stored record."""
    record = dict(stored)
    record["genes"] = [
        {"symbol": symbol, "entrez": entrez, "aliases": list(aliases), "printed": list(printed)}
        for symbol, entrez, aliases, printed in stored["genes"]
    ]
    for name in TERM_LISTS:
        record[name] = [{"name": term, "mesh_id": mesh_id} for term, mesh_id in stored[name]]
    return record


def _pickled(record: dict[str, Any]) -> bytes:
    return pickle.dumps(pack(record), pickle.HIGHEST_PROTOCOL)
