"""Shared fixtures: real PFOCR records from the bundled sample, built into temp indexes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer import pipeline

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RECORDS = ROOT / "sample_data" / "pfocr"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Real records with distinctive shapes, used where a test needs a few files.
OLDER_RECORD = "PMC100003__mb2410470011"  # genes/chemicals lists, organisms as a plain string
NEWER_RECORD = "PMC10017456__fpls-14-1084358-g002"  # organisms list + organisms_ner, keywords
STAT3_RECORD = "PMC7513516__12943_2020_1258_Fig1_HTML"  # 98 gene entries, STAT3 figure


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index root (as ``index_data/``) built once from all bundled sample records."""
    root = tmp_path_factory.mktemp("sample_index")
    report = pipeline.build([SAMPLE_RECORDS], root, workers=1)
    assert report.figures_rejected == 0, report.rejected
    return root


@pytest.fixture
def records_dir(tmp_path: Path) -> Path:
    """A writable folder holding a copy of every bundled sample record."""
    target = tmp_path / "records"
    shutil.copytree(SAMPLE_RECORDS, target)
    return target


def sample_path(figid: str) -> Path:
    return SAMPLE_RECORDS / f"{figid}.md"
