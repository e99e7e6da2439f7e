"""Shared fixtures: real PFOCR records from the bundled sample, built into temp indexes.

``sample_index`` is an index of exactly the 214 sample figures in each of the shapes the
product makes (as Whoosh's own tests run over one- and many-segment indexes): one
segment from a plain build, many segments from a build with little writer memory, and a
built-then-updated index whose segments hold deleted documents. Each shape is built once
per session; every test that uses it runs over all three.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from indexer import pipeline
from indexer.index.store import IndexStore

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RECORDS = ROOT / "sample_data" / "pfocr"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Real records with distinctive shapes, used where a test needs a few files.
OLDER_RECORD = "PMC100003__mb2410470011"  # genes/chemicals lists, organisms as a plain string
NEWER_RECORD = "PMC10017456__fpls-14-1084358-g002"  # organisms list + organisms_ner, keywords
STAT3_RECORD = "PMC7513516__12943_2020_1258_Fig1_HTML"  # 98 gene entries, STAT3 figure

SHAPES = ("one-segment", "many-segments", "updated")
SAMPLE_FIGURES = 214
# The "updated" shape: first built from the sample less every 20th record, with every
# 15th record's title edited and one extra figure; then updated from the real sample.
_DROPPED_EVERY, _EDITED_EVERY = 20, 15
EXTRA_FIGID = f"{OLDER_RECORD}__extra"


class ShapeBuilder:
    """Builds each index shape of the sample the first time it is asked for."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.roots: dict[str, Path] = {}

    def __call__(self, shape: str) -> Path:
        if shape not in self.roots:
            root = self.tmp_path_factory.mktemp(f"sample_index-{shape}")
            build_shape(shape, root, self.tmp_path_factory.mktemp("records"))
            check_shape(shape, root)
            self.roots[shape] = root
        return self.roots[shape]


@pytest.fixture(scope="session")
def index_shapes(tmp_path_factory: pytest.TempPathFactory) -> ShapeBuilder:
    """``index_shapes(name)``: the index root of one shape, for tests comparing shapes."""
    return ShapeBuilder(tmp_path_factory)


@pytest.fixture(scope="session", params=SHAPES)
def sample_index(request: pytest.FixtureRequest, index_shapes: ShapeBuilder) -> Path:
    """An index root (as ``index_data/``) holding exactly the 214 sample figures."""
    return index_shapes(request.param)


def check_shape(shape: str, root: Path) -> None:
    """Fail unless the index at ``root`` really is of the named shape."""
    found = index_shape(root)
    assert found["documents"] == SAMPLE_FIGURES, found
    expected = {
        "one-segment": lambda s: s["segments"] == 1 and s["deleted"] == 0,
        "many-segments": lambda s: s["segments"] > 1 and s["deleted"] == 0,
        "updated": lambda s: s["segments"] > 1 and s["deleted"] > 0,
    }[shape]
    assert expected(found), (shape, found)


def build_shape(shape: str, root: Path, scratch: Path) -> None:
    """Build the sample into ``root`` in the named shape (``scratch``: a writable folder)."""
    if shape == "one-segment":
        report = pipeline.build([SAMPLE_RECORDS], root, workers=1)
    elif shape == "many-segments":
        report = pipeline.build([SAMPLE_RECORDS], root, workers=1, memory_mb=0.25)
    else:
        records = scratch / "records"
        write_modified_sample(records)
        pipeline.build([records], root, workers=1)
        shutil.rmtree(records)
        shutil.copytree(SAMPLE_RECORDS, records)
        report = pipeline.update([records], root)
        assert report.figures_removed == 1, report.as_dict()  # the extra figure
        assert report.published
    assert report.figures_rejected == 0, report.rejected


def write_modified_sample(target: Path) -> None:
    """The sample records with some missing, some titles edited and one extra figure."""
    shutil.copytree(SAMPLE_RECORDS, target)
    for i, path in enumerate(sorted(target.iterdir())):
        if i % _DROPPED_EVERY == 1:
            path.unlink()
        elif i % _EDITED_EVERY == 2:
            edit_front_matter(path, lambda r: {**r, "figtitle": f"{r.get('figtitle')} (draft)"})
    extra = target / f"{EXTRA_FIGID}.md"
    shutil.copy(sample_path(OLDER_RECORD), extra)
    edit_front_matter(extra, lambda r: {**r, "figid": EXTRA_FIGID})


def edit_front_matter(path: Path, change) -> None:
    """Rewrite the YAML front matter of a Markdown record through ``change(record)``."""
    _, front, body = path.read_text(encoding="utf-8").split("---\n", 2)
    record = change(yaml.safe_load(front))
    text = yaml.safe_dump(record, allow_unicode=True, sort_keys=False)
    path.write_text(f"---\n{text}---\n{body}", encoding="utf-8")


def index_shape(root: Path) -> dict[str, int]:
    """Segments, live and deleted documents of the current generation, read by Whoosh."""
    with IndexStore(root).open_current().reader() as reader:
        return {
            "segments": len(list(reader.leaf_readers())),
            "documents": reader.doc_count(),
            "deleted": reader.doc_count_all() - reader.doc_count(),
        }


@pytest.fixture
def records_dir(tmp_path: Path) -> Path:
    """A writable folder holding a copy of every bundled sample record."""
    target = tmp_path / "records"
    shutil.copytree(SAMPLE_RECORDS, target)
    return target


def sample_path(figid: str) -> Path:
    return SAMPLE_RECORDS / f"{figid}.md"


def copy_sample_with_stat3(folder: Path, figures: int) -> Path:
    """``folder`` holding the first ``figures - 1`` sample records and the STAT3 figure
    (whose title tests change to tell generations apart)."""
    folder.mkdir()
    for path in sorted(SAMPLE_RECORDS.glob("*.md"))[: figures - 1]:
        shutil.copy(path, folder)
    shutil.copy(sample_path(STAT3_RECORD), folder)
    return folder


@contextlib.contextmanager
def served_over_waitress(index_root: Path) -> Iterator[str]:
    """The base URL of the app over ``index_root``, served by waitress (as ``pfocr serve``
    does) on a free 127.0.0.1 port in a thread; stopped cleanly on leaving."""
    from server.web.serving import make_server, serve_in_thread, stop_in_thread

    server = make_server(index_root, port=0)
    host, port = server.socket.getsockname()[:2]
    assert host == "127.0.0.1"
    thread = serve_in_thread(server)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_in_thread(server, thread)
    assert not thread.is_alive()
