"""A served index follows `pfocr update` without a restart, and survives a broken one.

A generation that cannot be loaded leaves the older one served: ``/api/status`` and
``/healthz`` say the service is degraded and why, the failure is logged once, and the
next generation published is loaded. These run over waitress on 127.0.0.1, as served.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource

from indexer import pipeline
from indexer.index.arrays import ARRAYS_DIR
from indexer.index.reader import UnreadableGeneration
from indexer.index.store import CURRENT_LINK, IndexStore
from pfocr.cli import main
from server.search.models import SearchRequest
from server.search.service import SearchService
from server.web.api import openapi_document
from tests.conftest import (
    SAMPLE_RECORDS,
    STAT3_RECORD,
    edit_front_matter,
    served_over_waitress,
)

FIGURES = 20
CANNOT_LOAD = "cannot load index generation"


@pytest.fixture
def small_index(tmp_path: Path) -> tuple[Path, Path]:
    """``(records, index root)``: an index of 20 real records plus the STAT3 figure."""
    records = tmp_path / "records"
    records.mkdir()
    for path in sorted(SAMPLE_RECORDS.glob("*.md"))[: FIGURES - 1]:
        shutil.copy(path, records)
    shutil.copy(SAMPLE_RECORDS / f"{STAT3_RECORD}.md", records)
    root = tmp_path / "index"
    pipeline.build([records], root, workers=1)
    return records, root


@pytest.fixture
def served(small_index: tuple[Path, Path]) -> Iterator[str]:
    """The base URL of the app over ``small_index`` under waitress on a free local port."""
    with served_over_waitress(small_index[1]) as url:
        yield url


def fetch(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def etag_and_revalidation(url: str) -> tuple[str, int]:
    """The ETag of ``url`` and the status of a revalidation sent with it at once."""
    with urllib.request.urlopen(url, timeout=10) as reply:
        tag = reply.headers["ETag"]
    request = urllib.request.Request(url, headers={"If-None-Match": tag})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return tag, reply.status
    except urllib.error.HTTPError as error:
        with error:
            return tag, error.code


def retitle(records: Path, figid: str, title: str) -> None:
    edit_front_matter(records / f"{figid}.md", lambda r: {**r, "figtitle": title})


def publish_broken_copy(root: Path) -> str:
    """Publish a copy of the current generation with its figids cut short, as a disk
    error or a bad copy might leave it; return the broken generation's name."""
    store = IndexStore(root)
    partial = store.new_generation()
    shutil.copytree(store.current(), partial, dirs_exist_ok=True)
    figids = partial / ARRAYS_DIR / "docs" / "figids.strings.npy"
    figids.write_bytes(figids.read_bytes()[:100])
    return store.publish(partial).name


def remove_other_generations(root: Path) -> None:
    """Leave only the generation ``current`` points at."""
    store = IndexStore(root)
    for path in store.complete_generations():
        if path != store.current():
            shutil.rmtree(path)


def check_schema(body: dict[str, Any], name: str) -> None:
    """Validate ``body`` against the OpenAPI document's schema ``name``."""
    registry = Registry().with_resource("urn:pfocr", Resource.opaque(openapi_document()))
    schema = {"$ref": f"urn:pfocr#/components/schemas/{name}"}
    OAS31Validator(schema, registry=registry).validate(body)


def load_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if CANNOT_LOAD in r.getMessage()]


# -- over HTTP, under waitress -----------------------------------------------------------------


def test_update_is_served_without_a_restart(small_index: tuple[Path, Path], served: str):
    records, root = small_index
    status, before = fetch(f"{served}/api/figures/{STAT3_RECORD}")
    assert status == 200 and before["title"] != "Retitled STAT3 network"
    version = fetch(f"{served}/api/status")[1]["version"]

    retitle(records, STAT3_RECORD, "Retitled STAT3 network")
    assert main(["update", str(records), "--index", str(root)]) == 0

    status, after = fetch(f"{served}/api/figures/{STAT3_RECORD}")
    assert (status, after["title"]) == (200, "Retitled STAT3 network")
    status, found = fetch(f"{served}/api/search?q=title:retitled")
    assert [h["figid"] for h in found["hits"]] == [STAT3_RECORD]
    status, info = fetch(f"{served}/api/status")
    assert (info["status"], info["documents"]) == ("ok", FIGURES)
    assert info["version"] != version


def test_broken_generation_keeps_the_old_one_served_then_recovers(
    small_index: tuple[Path, Path], served: str, caplog: pytest.LogCaptureFixture
):
    records, root = small_index
    good = fetch(f"{served}/healthz")[1]
    assert good == {
        "status": "ok",
        "index_version": good["index_version"],
        "load_error": None,
        "worker_pid": good["worker_pid"],
    }
    ok_tag, revalidated = etag_and_revalidation(f"{served}/api/status")
    assert revalidated == 304

    broken = publish_broken_copy(root)
    for _ in range(3):  # served from the old generation; not reloaded on every request
        status, health = fetch(f"{served}/healthz")
        assert (status, health["status"]) == (200, "degraded")
        assert health["index_version"] == good["index_version"]
        status, found = fetch(f"{served}/api/search?gene=STAT3")
        assert status == 200 and STAT3_RECORD in [h["figid"] for h in found["hits"]]
    error = health["load_error"]
    assert error["generation"] == broken
    assert "figids.strings.npy" in error["reason"] and str(root) not in error["reason"]
    status, info = fetch(f"{served}/api/status")
    assert (status, info["status"], info["load_error"]) == (200, "degraded", error)
    assert info["version"] == good["index_version"]
    degraded_tag, revalidated = etag_and_revalidation(f"{served}/api/status")
    assert degraded_tag != ok_tag and revalidated == 304  # same version, another answer
    check_schema(health, "Health")
    check_schema(info, "Status")
    assert len(load_failures(caplog)) == 1  # logged once, with the old version still served

    retitle(records, STAT3_RECORD, "Recovered STAT3 network")
    # An update builds on the current (broken) generation: a damaged index is rebuilt.
    assert main(["build", str(records), "--index", str(root), "--workers", "1"]) == 0
    status, health = fetch(f"{served}/healthz")
    assert (status, health["status"], health["load_error"]) == (200, "ok", None)
    assert health["index_version"] not in (good["index_version"], broken)
    assert fetch(f"{served}/api/figures/{STAT3_RECORD}")[1]["title"] == "Recovered STAT3 network"


def test_nothing_to_serve_is_503_and_not_retried_per_request(
    small_index: tuple[Path, Path], caplog: pytest.LogCaptureFixture
):
    _, root = small_index
    publish_broken_copy(root)
    remove_other_generations(root)
    with served_over_waitress(root) as url:  # a server started on the broken generation
        for path in ("/healthz", "/api/status", "/api/search?q=STAT3"):
            status, body = fetch(f"{url}{path}")
            assert (status, body["error"]["code"]) == (503, "index_unavailable"), path
    assert len(load_failures(caplog)) == 1


# -- the service, without HTTP -----------------------------------------------------------------


def test_a_new_process_on_a_broken_generation_serves_the_one_before(
    small_index: tuple[Path, Path], caplog: pytest.LogCaptureFixture
):
    """A worker started while ``current`` is damaged answers as its older siblings do."""
    _, root = small_index
    good = SearchService(root)
    version = good.version
    broken = publish_broken_copy(root)
    service = SearchService(root)  # a process that held nothing yet
    status = service.status()
    assert (status["status"], status["version"]) == ("degraded", version)
    assert status["load_error"]["generation"] == broken
    assert service.search(SearchRequest(filters={"gene": ["STAT3"]}))["total"] >= 1
    assert len(load_failures(caplog)) == 1
    good.close()
    service.close()


def test_service_recovers_when_current_moves_on(small_index: tuple[Path, Path]):
    records, root = small_index
    publish_broken_copy(root)
    remove_other_generations(root)
    service = SearchService(root)
    with pytest.raises(UnreadableGeneration, match=r"arrays/docs/figids.strings.npy holds"):
        service.search(SearchRequest())
    with pytest.raises(UnreadableGeneration):  # the same answer, without loading again
        service.status()
    pipeline.build([records], root, workers=1)
    status = service.status()
    assert (status["status"], status["documents"], status["load_error"]) == ("ok", FIGURES, None)
    service.close()


def test_damaged_postings_are_named_when_loaded(small_index: tuple[Path, Path]):
    """A postings file cut short is found when the generation is loaded (the API answers
    503 index_unavailable), naming the file, not answered from wrong postings."""
    _, root = small_index
    store = IndexStore(root)
    partial = store.new_generation()
    shutil.copytree(store.current(), partial, dirs_exist_ok=True)
    postings = partial / ARRAYS_DIR / "postings" / "text.docs.npy"
    postings.write_bytes(postings.read_bytes()[:-4])
    store.publish(partial)
    service = SearchService(root)
    status = service.status()  # the generation before is served meanwhile
    assert status["status"] == "degraded"
    assert "arrays/postings/text.docs.npy holds" in status["load_error"]["reason"]
    service.close()
    remove_other_generations(root)  # with nothing else to serve, it is an error
    service = SearchService(root)
    with pytest.raises(UnreadableGeneration, match=r"postings/text.docs.npy holds"):
        service.search(SearchRequest(q="pathway"))
    service.close()


def test_pointing_back_at_the_served_generation_is_not_degraded(small_index: tuple[Path, Path]):
    _, root = small_index
    service = SearchService(root)
    good = os.readlink(root / CURRENT_LINK)
    version = service.version
    publish_broken_copy(root)
    assert service.status()["status"] == "degraded"
    temp = root / ".current.back"
    temp.symlink_to(good)
    temp.replace(root / CURRENT_LINK)
    status = service.status()
    assert (status["status"], status["version"], status["load_error"]) == ("ok", version, None)
    service.close()
