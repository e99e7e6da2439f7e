"""Building, updating and checking indexes: completeness, bad input, and safety."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.query import Term

from indexer import pipeline
from indexer.analysis import name_key
from indexer.index import schema
from indexer.index.reader import GenerationReader
from indexer.index.records import RecordCodec, unpack
from indexer.index.store import BuildInProgress, IncompatibleIndex, IndexStore
from indexer.lexicon import GeneLexicon
from indexer.record import normalize
from indexer.sources import discover, read_records
from indexer.vocabulary import Vocabulary
from tests.conftest import FIXTURES, NEWER_RECORD, OLDER_RECORD, SAMPLE_RECORDS, sample_path


def figids_matching(root: Path, field: str, text: str) -> set[str]:
    ix = IndexStore(root).open_current()
    with ix.searcher() as searcher:
        query = Term(field, text)
        figids = searcher.reader().column_reader(schema.FIGID)
        return {figids[hit.docnum].decode() for hit in searcher.search(query, limit=None)}


def docnum_of(searcher, figid: str) -> int:
    figids = [f.decode() for f in searcher.reader().column_reader(schema.FIGID)]
    (docnum,) = [d for d in searcher.reader().all_doc_ids() if figids[d] == figid]
    return docnum


def stored_record(searcher, figid: str, generation: Path) -> dict:
    docnum = docnum_of(searcher, figid)
    stored = searcher.reader().column_reader(schema.RECORD)[docnum]
    return unpack(RecordCodec.load(generation).decode(stored))


def all_figids(root: Path) -> set[str]:
    ix = IndexStore(root).open_current()
    with ix.reader() as reader:
        if not reader.doc_count_all():  # Whoosh's reader of no segments has no columns
            return set()
        figids = [f.decode() for f in reader.column_reader(schema.FIGID)]
        return {figids[d] for d in reader.all_doc_ids()}


def test_every_sample_record_is_findable(sample_index):
    """Each record: by figid, a word of its title, each gene symbol and Entrez ID."""
    ix = IndexStore(sample_index).open_current()
    generation = IndexStore(sample_index).current()
    analyzer = schema.text_analyzer()
    with ix.searcher() as searcher:
        assert searcher.doc_count() == len(discover([SAMPLE_RECORDS])) == 214

        def found(field: str, text: str) -> set[str]:
            figids = searcher.reader().column_reader(schema.FIGID)
            hits = searcher.search(Term(field, text), limit=None)
            return {figids[hit.docnum].decode() for hit in hits}

        for path in discover([SAMPLE_RECORDS]):
            (raw,) = read_records(path)
            figure = normalize(raw.data, raw.location)
            assert docnum_of(searcher, figure.figid) is not None
            title = schema.document(figure, "", "")[schema.TITLE]  # own gene names unstemmed
            words = [token.text for token in analyzer(title)]
            assert words, figure.figid
            assert figure.figid in found(schema.TITLE, words[0])
            assert figure.figid in found(schema.TEXT, words[-1])
            stored = stored_record(searcher, figure.figid, generation)
            for gene in stored["genes"]:
                assert figure.figid in found(schema.GENE, name_key(gene["symbol"]))
                if gene["entrez"]:
                    assert figure.figid in found(schema.ENTREZ, gene["entrez"])


def test_gene_fields_are_exact_and_case_insensitive(sample_index):
    assert "PMC7513516__12943_2020_1258_Fig1_HTML" in figids_matching(
        sample_index, schema.GENE, "stat3"
    )
    assert "PMC7513516__12943_2020_1258_Fig1_HTML" in figids_matching(
        sample_index, schema.ENTREZ, "6774"
    )
    # Printed aliases survive whole: hyphens and digits are not split off.
    assert figids_matching(sample_index, schema.ALIAS, "p53")
    assert OLDER_RECORD in figids_matching(sample_index, schema.ALIAS, "fak")
    assert OLDER_RECORD in figids_matching(sample_index, schema.ALIAS, "src")


def test_newer_records_get_entrez_ids_from_the_lexicon(sample_index):
    lexicon = GeneLexicon.load(IndexStore(sample_index).require_current() / "lexicon.json")
    ix = IndexStore(sample_index).open_current()
    with ix.searcher() as searcher:
        record = stored_record(searcher, NEWER_RECORD, IndexStore(sample_index).current())
    resolved = {g["symbol"]: g["entrez"] for g in record["genes"]}
    assert resolved, "some keywords of the newer record are known HGNC symbols"
    for symbol, entrez in resolved.items():
        assert entrez == lexicon.entrez(symbol)
        assert NEWER_RECORD in figids_matching(sample_index, schema.GENE, name_key(symbol))


def test_newer_records_get_genes_that_ncbi_gene_knows(sample_index):
    """A keyword that no older record resolved is a gene when it is an official NCBI
    symbol as written: ERBB2 (HER2), listed only by newer records of the sample."""
    lexicon = GeneLexicon.load(IndexStore(sample_index).require_current() / "lexicon.json")
    assert lexicon.entrez("ERBB2") == "2064" and lexicon.symbol_figures["ERBB2"] == 3
    assert len(figids_matching(sample_index, schema.GENE, "erbb2")) == 3
    assert lexicon.entrez("Erbb2") is None  # a mouse symbol is not the human gene


def test_lexicon_maps_symbols_entrez_and_aliases(sample_index):
    lexicon = GeneLexicon.load(IndexStore(sample_index).require_current() / "lexicon.json")
    (stat3,) = lexicon.resolve("STAT3")
    assert (stat3.symbol, stat3.entrez, stat3.matched_by) == ("STAT3", "6774", "symbol")
    assert stat3.figures >= 2
    assert lexicon.resolve("6774")[0].symbol == "STAT3"
    fak = lexicon.resolve("fak")
    assert [m.symbol for m in fak] == ["PTK2"] and fak[0].matched_by == "alias"
    assert lexicon.resolve("no-such-gene") == []


def facet_values_of(root: Path, facet: str, figid: str) -> list[str]:
    """A figure's display values of ``facet``, as the generation's search arrays hold them."""
    reader = GenerationReader(IndexStore(root).require_current())
    try:
        figids = reader.figids.all()
        docnum = next(d for d, f in enumerate(figids) if f == figid and reader.live[d])
        tables = reader.arrays.facets[facet]
        ordinals = tables.doc_vals[tables.doc_ptr[docnum] : tables.doc_ptr[docnum + 1]]
        return [tables.values[o] for o in ordinals.tolist()]
    finally:
        reader.close()


def test_facets_hold_display_values(sample_index):
    assert facet_values_of(sample_index, "organism", OLDER_RECORD) == ["Homo sapiens"]
    assert facet_values_of(sample_index, "organism", NEWER_RECORD) == [
        "Eschscholzia californica",
        "Homo sapiens",
    ]


def test_parallel_build_matches_single_process(tmp_path):
    report = pipeline.build([SAMPLE_RECORDS], tmp_path / "ix", workers=2)
    assert (report.figures_indexed, report.figures_rejected) == (214, 0)
    assert len(all_figids(tmp_path / "ix")) == 214
    meta = json.loads((IndexStore(tmp_path / "ix").require_current() / "meta.json").read_text())
    assert meta["documents"] == 214 and meta["schema_version"] == schema.SCHEMA_VERSION


def test_parallel_writers_with_little_memory_keep_every_posting(tmp_path):
    """Tiny memory makes both workers finish many segments as they go."""
    pipeline.build([SAMPLE_RECORDS], tmp_path / "ix", workers=2, memory_mb=0.25)
    assert len(IndexStore(tmp_path / "ix").open_current()._segments()) > 2
    assert len(all_figids(tmp_path / "ix")) == 214
    assert len(figids_matching(tmp_path / "ix", schema.TEXT, "pathway")) > 100  # stemmed
    assert "PMC7513516__12943_2020_1258_Fig1_HTML" in figids_matching(
        tmp_path / "ix", schema.GENE, "stat3"
    )


def write_bad_records(folder: Path) -> None:
    (folder / "bad-yaml.md").write_text("---\nfigid: BAD1\ncaption: [oops\n---\n", encoding="utf-8")
    (folder / "no-figid.md").write_text("---\nfigtitle: Nameless\n---\n", encoding="utf-8")
    (folder / "latin1.md").write_bytes(
        "---\nfigid: BAD3\ncaption: caf\xe9\n---\n".encode("latin-1")
    )
    (folder / "notes.md").write_text("# Just notes\n", encoding="utf-8")
    shutil.copy(sample_path(OLDER_RECORD), folder / "zz-duplicate.md")


def test_bad_records_are_reported_and_the_rest_indexed(records_dir, tmp_path):
    write_bad_records(records_dir)
    report = pipeline.build([records_dir], tmp_path / "ix")
    assert report.figures_indexed == 214
    problems = {Path(r["location"]).name: (r["field"], r["problem"]) for r in report.rejected}
    assert problems == {
        "bad-yaml.md": (None, problems["bad-yaml.md"][1]),
        "no-figid.md": ("figid", "missing figid"),
        "latin1.md": (None, "unreadable encoding: not UTF-8 (byte 0xe9 at offset 28)"),
        "notes.md": (None, "not a record: no YAML front matter (first line is not '---')"),
        "zz-duplicate.md": (
            "figid",
            f"duplicate figid '{OLDER_RECORD}': already read from {records_dir / (OLDER_RECORD + '.md')}",
        ),
    }
    assert problems["bad-yaml.md"][1].startswith("bad YAML at line 4")
    saved = json.loads((tmp_path / "ix" / "report.json").read_text())
    assert saved["figures_rejected"] == 5 and saved["rejected"] == report.rejected
    generation_report = IndexStore(tmp_path / "ix").require_current() / "report.json"
    assert json.loads(generation_report.read_text())["figures_rejected"] == 5


def test_strict_build_publishes_nothing(records_dir, tmp_path, sample_index):
    root = tmp_path / "ix"
    pipeline.build([sample_path(OLDER_RECORD)], root)
    before = IndexStore(root).current()
    write_bad_records(records_dir)
    with pytest.raises(pipeline.StrictFailure, match="5 records rejected"):
        pipeline.build([records_dir], root, strict=True)
    assert IndexStore(root).current() == before
    assert all_figids(root) == {OLDER_RECORD}


def test_check_validates_without_an_index(records_dir):
    write_bad_records(records_dir)
    report = pipeline.check([records_dir])
    assert (report.files_read, report.figures_indexed, report.figures_rejected) == (219, 214, 5)


def test_interrupted_build_leaves_the_served_index_intact(tmp_path, monkeypatch):
    root = tmp_path / "ix"
    pipeline.build([sample_path(OLDER_RECORD)], root)
    before = IndexStore(root).current()
    calls = 0

    def crash_midway(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls > 50:
            raise KeyboardInterrupt
        return real_document(*args, **kwargs)

    real_document = schema.document
    monkeypatch.setattr(schema, "document", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        pipeline.build([SAMPLE_RECORDS], root, workers=1)
    assert IndexStore(root).current() == before
    assert all_figids(root) == {OLDER_RECORD}
    assert not list((root / "generations").glob("*.partial"))


def test_a_second_build_at_once_is_refused(tmp_path):
    root = tmp_path / "ix"
    with (
        IndexStore(root).lock(),
        pytest.raises(BuildInProgress, match="another build or update is running"),
    ):
        pipeline.build([sample_path(OLDER_RECORD)], root)


def test_incompatible_schema_version_is_refused(tmp_path):
    root = tmp_path / "ix"
    pipeline.build([sample_path(OLDER_RECORD)], root)
    meta_path = IndexStore(root).require_current() / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["schema_version"] = 0
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(IncompatibleIndex, match="rebuild it with `pfocr build`"):
        IndexStore(root).open_current()


def test_update_adds_changes_and_removes(records_dir, tmp_path):
    root = tmp_path / "ix"
    pipeline.build([records_dir], root)
    first = IndexStore(root).current()

    unchanged = pipeline.update([records_dir], root)
    assert (unchanged.figures_indexed, unchanged.figures_unchanged, unchanged.published) == (
        0,
        214,
        False,
    )
    assert IndexStore(root).current() == first

    (records_dir / f"{OLDER_RECORD}.md").unlink()
    newer = records_dir / f"{NEWER_RECORD}.md"
    newer.write_text(
        newer.read_text().replace("California poppy", "Zanzibar poppy"), encoding="utf-8"
    )
    added = records_dir / "extra.yaml"
    added.write_text(
        "figid: EXTRA1\nfigtitle: Hedgehog signalling in Zanzibar\nyear: '2019'\n"
        "genes:\n- {word: Shh, symbol: SHH, source: hgnc_symbol, hgnc_symbol: SHH, entrez: '6469'}\n",
        encoding="utf-8",
    )
    report = pipeline.update([records_dir], root)
    assert (report.figures_indexed, report.figures_removed, report.figures_unchanged) == (2, 1, 212)
    assert report.documents == 214
    assert IndexStore(root).current() != first
    assert OLDER_RECORD not in all_figids(root)
    assert figids_matching(root, schema.TEXT, "zanzibar") == {NEWER_RECORD, "EXTRA1"}
    assert "EXTRA1" in figids_matching(root, schema.ENTREZ, "6469")
    # The lexicon counts follow: BMX was printed as "Etk" only in the removed figure.
    before = GeneLexicon.load(first / "lexicon.json")
    after = GeneLexicon.load(IndexStore(root).require_current() / "lexicon.json")
    assert after.resolve("SHH")[0].figures == before.resolve("SHH")[0].figures + 1
    assert before.resolve("Etk")[0].symbol == "BMX"
    assert after.resolve("Etk") == []
    spelling = Vocabulary.load_surface(IndexStore(root).require_current() / "vocabulary.json")
    assert spelling["zanzibar"] == "zanzibar" and spelling["signal"] == "signaling"


def test_vocabulary_counts_words_as_written_and_shows_their_commonest_lower_case():
    vocabulary = Vocabulary()
    vocabulary.words.update({"Signaling": 2, "signaling": 1, "signalling": 2, "The": 5, "NOS": 1})
    assert vocabulary.surface() == {"signal": "signaling", "nos": "nos"}


def test_update_rejects_a_duplicate_of_an_indexed_figure(records_dir, tmp_path):
    root = tmp_path / "ix"
    pipeline.build([records_dir], root)
    shutil.copy(records_dir / f"{OLDER_RECORD}.md", records_dir / "copy.md")
    report = pipeline.update([records_dir], root)
    (rejected,) = report.rejected
    assert rejected["location"].endswith("copy.md")
    assert rejected["problem"].startswith(f"duplicate figid '{OLDER_RECORD}'")
    assert len(all_figids(root)) == 214


def test_old_generations_are_collected(tmp_path):
    root = tmp_path / "ix"
    for _ in range(4):
        pipeline.build([sample_path(OLDER_RECORD)], root)
    generations = sorted(p.name for p in (root / "generations").iterdir())
    assert len(generations) == 2
    assert (
        os.readlink(root / "current").endswith(generations[-1])
        or IndexStore(root).current().name in generations
    )
    assert whoosh_index.exists_in(str(IndexStore(root).current()))


def test_newer_records_keep_hgnc_symbols_listed_after_other_spellings(sample_index):
    """``Tp53`` listed before ``TP53`` once dropped TP53: gene search, the gene facet and
    the stored record must all name every listed symbol the lexicon knows."""
    lexicon = GeneLexicon.load(IndexStore(sample_index).require_current() / "lexicon.json")
    ix = IndexStore(sample_index).open_current()
    for path in sorted((FIXTURES / "mixed-case-keywords").glob("*.md")):
        (raw,) = read_records(path)
        figure = normalize(raw.data, raw.location)
        known = {word for word in figure.gene_keywords if lexicon.entrez(word) is not None}
        with ix.searcher() as searcher:
            record = stored_record(searcher, figure.figid, IndexStore(sample_index).current())
            stored = {gene["symbol"] for gene in record["genes"]}
        facet = facet_values_of(sample_index, "gene", figure.figid)
        assert {"TP53", "MTOR", "MMP2"} <= known or {"AKT1", "BRAF", "SHH", "TNF"} <= known
        assert stored == known
        assert set(facet) == known
        for symbol in known:
            assert figure.figid in figids_matching(sample_index, schema.GENE, symbol.lower())


def test_oversized_records_are_rejected_and_the_build_goes_on(records_dir, tmp_path):
    (records_dir / "long-caption.md").write_text(
        "---\nfigid: LONG1\ncaption: " + "word " * 20_000 + "\n---\n", encoding="utf-8"
    )
    genes = "".join(f"- {{hgnc_symbol: G{n}, word: G{n}}}\n" for n in range(2_001))
    (records_dir / "many-genes.md").write_text(
        f"---\nfigid: MANY1\ngenes:\n{genes}---\n", encoding="utf-8"
    )
    (records_dir / "huge.md").write_bytes(b"---\nfigid: HUGE1\ncaption: " + b"a" * (2 << 20))
    report = pipeline.build([records_dir], tmp_path / "ix", workers=2)
    problems = {Path(r["location"]).name: (r["field"], r["problem"]) for r in report.rejected}
    assert problems == {
        "long-caption.md": ("caption", problems["long-caption.md"][1]),
        "many-genes.md": ("genes", "too many: 2,001 items, more than the 2,000 allowed"),
        "huge.md": (None, problems["huge.md"][1]),
    }
    assert problems["long-caption.md"][1].startswith("too long: 99,999 characters")
    assert problems["huge.md"][1].startswith("file too large: 2,097,1")
    assert report.figures_indexed == 214


def test_an_empty_or_all_rejected_build_never_replaces_a_good_index(records_dir, tmp_path):
    root = tmp_path / "ix"
    pipeline.build([sample_path(OLDER_RECORD)], root)
    before = IndexStore(root).current()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(pipeline.EmptyIndexRefused, match="no figures to index in the 0 files"):
        pipeline.build([empty], root)
    rejected_only = tmp_path / "bad"
    rejected_only.mkdir()
    write_bad_records(rejected_only)
    (rejected_only / "zz-duplicate.md").unlink()
    with pytest.raises(pipeline.EmptyIndexRefused, match="all 4 records were rejected") as caught:
        pipeline.build([rejected_only], root, workers=2)
    assert caught.value.report.figures_rejected == 4
    assert IndexStore(root).current() == before
    assert all_figids(root) == {OLDER_RECORD}
    assert not list((root / "generations").glob("*.partial"))

    report = pipeline.build([empty], root, allow_empty=True)
    assert (report.published, report.documents) == (True, 0)
    assert all_figids(root) == set()


def test_an_update_that_would_leave_no_figures_is_refused(records_dir, tmp_path):
    root = tmp_path / "ix"
    pipeline.build([records_dir / f"{OLDER_RECORD}.md", records_dir / f"{NEWER_RECORD}.md"], root)
    before = IndexStore(root).current()
    emptied = tmp_path / "emptied"
    emptied.mkdir()
    with pytest.raises(pipeline.EmptyIndexRefused, match="would leave no figures"):
        pipeline.update([emptied], root)
    assert IndexStore(root).current() == before
    assert all_figids(root) == {OLDER_RECORD, NEWER_RECORD}
    report = pipeline.update([emptied], root, allow_empty=True)
    assert (report.published, report.documents, report.figures_removed) == (True, 0, 2)
    assert all_figids(root) == set()


def test_a_killed_build_takes_its_workers_along_and_the_next_build_cleans_up(tmp_path):
    """SIGKILL the `pfocr build` process mid-build: its workers must not outlive it, and
    the next build (holding the lock) removes the folders the killed one left."""
    psutil = pytest.importorskip("psutil")
    records = tmp_path / "records"
    for copy in range(4):  # enough files to be caught mid-build (the copies are duplicates)
        shutil.copytree(SAMPLE_RECORDS, records / str(copy))
    root = tmp_path / "ix"
    pipeline.build([sample_path(OLDER_RECORD)], root)
    before = IndexStore(root).current()
    command = [sys.executable, "-m", "pfocr", "build", str(records), "--index", str(root)]
    build = subprocess.Popen(
        [*command, "--workers", "2", "--quiet"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        parent = psutil.Process(build.pid)
        workers: list = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and build.poll() is None:
            workers = [p for p in parent.children(recursive=True) if "python" in p.name()]
            if len(workers) >= 2 and list(root.glob("pfocr-build-*/shard*.pickle")):
                break
            time.sleep(0.05)
        assert build.poll() is None and len(workers) >= 2, "the build ended before the kill"
        build.send_signal(signal.SIGKILL)
        build.wait(timeout=10)
    finally:
        if build.poll() is None:
            build.kill()
    _, alive = psutil.wait_procs(workers, timeout=5)
    for orphan in alive:  # do not leave them running if the assertion below fails
        orphan.kill()
    assert alive == [], f"workers outlived the killed build: {alive}"
    assert list(root.glob("pfocr-build-*")) and list(root.glob("generations/*.partial"))
    assert IndexStore(root).current() == before

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(pipeline.EmptyIndexRefused):  # even a refused build cleans up
        pipeline.build([empty], root)
    assert list(root.glob("pfocr-build-*")) == []
    assert list(root.glob("generations/*.partial")) == []
    assert IndexStore(root).current() == before


def test_without_prctl_a_worker_notices_its_parent_is_gone(tmp_path):
    """The portable fallback (macOS, or prctl refused): a thread polls the parent pid."""
    psutil = pytest.importorskip("psutil")
    worker_code = (
        "import os, sys, time; from indexer.pipeline import _die_with_parent; "
        "sys.platform = 'darwin'; "  # skip the Linux prctl path
        "_die_with_parent(os.getppid()); "
        "print('ready', flush=True); time.sleep(60)"
    )
    parent_code = (
        "import subprocess, sys, time; "
        f"child = subprocess.Popen([sys.executable, '-c', {worker_code!r}]); "
        "print(child.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        worker = psutil.Process(int(parent.stdout.readline()))
        assert parent.stdout.readline() == "ready\n"  # the worker's watcher is running
        parent.kill()
        parent.wait(timeout=10)
        _, alive = psutil.wait_procs([worker], timeout=pipeline.PARENT_CHECK_SECONDS + 4)
        for orphan in alive:
            orphan.kill()
        assert alive == [], "the worker outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.stdout.close()


def test_a_figure_names_each_gene_once_in_the_alias_field():
    """Spellings that fold to one key ("E2F4", "E2f4") are one alias term, counted once:
    a figure listing a gene in three spellings must not score three times as high."""
    for path in sorted((FIXTURES / "mixed-case-keywords").glob("*.md")):
        (raw,) = read_records(path)
        figure = normalize(raw.data, raw.location)
        aliases = schema.document(figure, raw.location, raw.digest)[schema.ALIAS].split(
            schema.VALUE_SEPARATOR
        )
        keys = [name_key(a) for a in aliases]
        assert len(figure.gene_keywords) > len({name_key(k) for k in figure.gene_keywords})
        assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
