"""The PFOCR search web application: ``create_app`` builds it.

Configuration, later sources overriding earlier ones:

1. the defaults below;
2. without ``test_config``: a Python config file named by ``PFOCR_SETTINGS``, then the
   environment variables ``PFOCR_INDEX``, ``PFOCR_CORS_ORIGINS`` (comma-separated, or
   ``*``), ``PFOCR_EXPORT_MAX`` and ``PFOCR_IMAGE_URL``; with it, ``test_config`` alone, so tests do not
   depend on the environment they run in;
3. the ``index_root`` argument.

Keys:

- ``PFOCR_INDEX``: the index folder (``index_data``); the service re-reads its ``current``
  generation, so a rebuilt index is served without a restart.
- ``PFOCR_CORS_ORIGINS``: origins allowed to call ``/api/*`` from a browser (``*``).
- ``PFOCR_EXPORT_MAX``: most figures one export may stream (10,000).
- ``PFOCR_IMAGE_URL``: template of figure image links (hits' ``links.image`` and the
  pages' images), with ``{pmcid}`` and ``{filename}``; Europe PMC by default.
- ``MAX_CONTENT_LENGTH``: largest request body in bytes (1 MiB); past it, 413.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from flask_cors import CORS

from indexer.record import PMC_IMAGE_URL
from server.search.gate import CostlyGate
from server.search.service import SearchService, bound_word_memos
from server.web import embed, errors, export, telemetry
from server.web.api import api, health
from server.web.json import FastJSONProvider
from server.web.pages import pages

DEFAULT_INDEX = "index_data"
# An installed wheel carries the templates inside this package (see pyproject.toml); a
# source checkout (and an editable install) reads them from the repository's templates/.
_PACKAGED_TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATES = (
    _PACKAGED_TEMPLATES
    if _PACKAGED_TEMPLATES.is_dir()
    else Path(__file__).resolve().parents[2] / "templates"
)
# 1,000 genes of JSON take ~20 kB; a megabyte leaves room without inviting abuse.
MAX_BODY_BYTES = 1024 * 1024


def create_app(
    index_root: str | os.PathLike[str] | None = None,
    test_config: Mapping[str, Any] | None = None,
    costly_gate: CostlyGate | None = None,
) -> Flask:
    """Build the app over the index in ``index_root`` (or the configured one);
    ``costly_gate`` shares costly queries' turns with other processes (see serving)."""
    app = Flask(__name__, template_folder=TEMPLATES)
    app.config.from_mapping(
        PFOCR_INDEX=DEFAULT_INDEX,
        PFOCR_CORS_ORIGINS="*",
        PFOCR_EXPORT_MAX=export.EXPORT_MAX,
        PFOCR_IMAGE_URL=PMC_IMAGE_URL,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    if test_config is None:
        app.config.from_envvar("PFOCR_SETTINGS", silent=True)
        app.config.update(_from_environment(os.environ))
    else:
        app.config.from_mapping(test_config)
    if index_root is not None:
        app.config["PFOCR_INDEX"] = os.fspath(index_root)
    if isinstance(app.config["PFOCR_CORS_ORIGINS"], str):
        app.config["PFOCR_CORS_ORIGINS"] = _origins(app.config["PFOCR_CORS_ORIGINS"])

    # The service's key order (total, page, hits...), Greek letters as they are, fast.
    app.json = FastJSONProvider(app)

    try:
        service = SearchService(
            app.config["PFOCR_INDEX"],
            image_url=app.config["PFOCR_IMAGE_URL"],
            costly_gate=costly_gate,
        )
    except ValueError as exc:
        raise ValueError(f"PFOCR_IMAGE_URL: {exc}") from None
    app.extensions["pfocr"] = service
    _read_one_generation_per_request(app, service)
    app.teardown_request(_bound_word_memos)
    app.teardown_request(_forget_routing_exception)
    _init_cors(app)
    errors.init_app(app)
    telemetry.init_app(app, service)

    app.register_blueprint(api)
    app.register_blueprint(health)
    app.register_blueprint(pages)
    app.register_blueprint(embed.embed)
    return app


def _read_one_generation_per_request(app: Flask, service: SearchService) -> None:
    """Every service call of one request (its ETag, its answer, a streamed export to the
    last row) reads the same index generation, even if a new one is published meanwhile."""

    @app.before_request
    def begin() -> None:
        g.pfocr_generation = service.generations.begin()

    @app.teardown_request
    def end(_: BaseException | None) -> None:
        token = g.pop("pfocr_generation", None)
        if token is not None:
            service.generations.end(token)


def _bound_word_memos(_: BaseException | None) -> None:
    """After every request, whatever it analysed (the words of a search, the names of a
    gene list, an alias), the word memos within their bound."""
    bound_word_memos()


def _forget_routing_exception(_: BaseException | None) -> None:
    """Flask keeps a URL's 404 on the request, and its traceback keeps the frames that
    hold the request and the answer: a reference cycle, so each such answer waited for
    the cycle collector (which a worker runs seldom). Dropped once the answer is made."""
    request.routing_exception = None


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if "PFOCR_INDEX" in environ:
        config["PFOCR_INDEX"] = environ["PFOCR_INDEX"]
    if "PFOCR_IMAGE_URL" in environ:
        config["PFOCR_IMAGE_URL"] = environ["PFOCR_IMAGE_URL"]
    if "PFOCR_CORS_ORIGINS" in environ:
        config["PFOCR_CORS_ORIGINS"] = environ["PFOCR_CORS_ORIGINS"]
    if "PFOCR_EXPORT_MAX" in environ:
        value = environ["PFOCR_EXPORT_MAX"]
        if not value.strip().isdigit():
            raise ValueError(f"PFOCR_EXPORT_MAX must be a whole number of figures, got {value!r}")
        config["PFOCR_EXPORT_MAX"] = int(value)
    return config


def _origins(value: str) -> str | list[str]:
    """``"*"``, or the list of origins in a comma-separated string."""
    origins = [o.strip() for o in value.split(",") if o.strip()]
    return "*" if origins in ([], ["*"]) else origins


def _init_cors(app: Flask) -> None:
    # No credentials are ever involved: the API is read-only and public.
    CORS(
        app,
        resources={r"/api/*": {"origins": app.config["PFOCR_CORS_ORIGINS"]}},
        methods=["GET", "HEAD", "POST", "OPTIONS"],
        allow_headers=["Content-Type", "If-None-Match"],
        # Link: a figure's canonical URL, when it was asked for by another name.
        expose_headers=[
            "ETag",
            "X-Total-Count",
            "X-Exported-Count",
            "Content-Disposition",
            "Link",
        ],
        max_age=86400,
        send_wildcard=True,  # with "*": say "*" rather than echo each Origin, so caches share
    )
