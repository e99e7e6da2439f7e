"""One JSON error shape for every API error.

Every error the API answers with has this body, and no other::

    {"error": {"status": 400, "code": "invalid_parameter", "parameter": "per_page",
               "message": "per_page must be between 1 and 100, got 500", "position": null}}

``parameter`` names the offending request parameter (``null`` when none is to blame) and
``position`` is the character offset in ``q`` (or in a JSON body) of a syntax error
(``null`` otherwise). HTTP errors and failures outside ``/api/`` and ``/healthz`` keep
Flask's own pages; a pages blueprint may register its own handlers, which take precedence.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    RequestEntityTooLarge,
    ServiceUnavailable,
)

from indexer.index.store import IndexError_
from server.search.models import Busy, InvalidParameter, NotFound

API_PREFIXES = ("/api/", "/healthz")


class ApiError(Exception):
    """An API error with its status, machine-readable code and the parameter to blame."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        parameter: str | None = None,
        position: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter
        self.position = position
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "status": self.status,
                "code": self.code,
                "parameter": _encodable(self.parameter),
                "message": _encodable(self.message),
                "position": self.position,
            }
        }

    def response(self) -> Response:
        response = jsonify(self.body())
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


def from_invalid_parameter(exc: InvalidParameter) -> ApiError:
    return ApiError(
        exc.status,
        "invalid_parameter",
        exc.message,
        parameter=exc.parameter,
        position=exc.position,
    )


def from_busy(exc: Busy) -> ApiError:
    return ApiError(
        503,
        "busy",
        exc.message,
        parameter=exc.parameter,
        headers={"Retry-After": str(exc.retry_after)},
    )


def from_not_found(exc: NotFound) -> ApiError:
    return ApiError(404, "not_found", exc.message)


def from_http_exception(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    if isinstance(exc, RequestEntityTooLarge):
        return ApiError(413, "body_too_large", _too_large_message(), parameter="body")
    # Keep headers such as Allow (405) but not the HTML content type.
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return ApiError(status, _snake(exc.name), _http_message(exc), headers=headers)


def index_unavailable() -> ApiError:
    # The reason names server paths: it goes to the log, not to the client.
    return ApiError(
        503, "index_unavailable", "the search index is not available; the details have been logged"
    )


def internal_error() -> ApiError:
    return ApiError(500, "internal_error", "internal server error; the details have been logged")


def init_app(app: Flask) -> None:
    """Answer API errors in the one JSON shape; leave other pages to Flask."""

    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError) -> Response:
        return exc.response()

    @app.errorhandler(InvalidParameter)
    def handle_invalid_parameter(exc: InvalidParameter) -> Response:
        return from_invalid_parameter(exc).response()

    @app.errorhandler(Busy)
    def handle_busy(exc: Busy) -> Response | HTTPException:
        if not _is_api_request():
            return ServiceUnavailable(exc.message, retry_after=exc.retry_after)
        return from_busy(exc).response()

    @app.errorhandler(NotFound)
    def handle_not_found(exc: NotFound) -> Response:
        return from_not_found(exc).response()

    @app.errorhandler(IndexError_)
    def handle_index_error(exc: IndexError_) -> Response | HTTPException:
        app.logger.error("index unavailable: %s", exc)
        if not _is_api_request():
            return ServiceUnavailable()
        return index_unavailable().response()

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException) -> Response | HTTPException:
        if not _is_api_request():
            return exc
        return from_http_exception(exc).response()

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response | HTTPException:
        # Logged with its traceback here; the client only learns that something failed.
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if not _is_api_request():
            return InternalServerError()
        return internal_error().response()


def _is_api_request() -> bool:
    return request.path.startswith(API_PREFIXES)


def _too_large_message() -> str:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit:
        return f"the request body is over the limit of {limit:,} bytes"
    return "the request body is too large"


def _http_message(exc: HTTPException) -> str:
    if exc.code == 404 and request.url_rule is None:
        return f"no API route matches {request.path}; see /api/openapi.json for the routes"
    if isinstance(exc, MethodNotAllowed):
        allowed = ", ".join(sorted(set(exc.valid_methods or ()) - {"HEAD", "OPTIONS"}))
        return f"method {request.method} is not allowed on {request.path}; allowed: {allowed}"
    return exc.description or exc.name


def _encodable(text: str | None) -> str | None:
    """``text`` as UTF-8 can carry it: an error must not fail on the text it quotes."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
