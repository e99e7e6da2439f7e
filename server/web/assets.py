"""Static files under content-hashed URLs, so they can be cached for a year.

``static_url("site.css")`` gives ``/static/site.css?v=<hash of the file>``: a changed file
gets a new URL, so browsers never need to revalidate the old one. A request carrying the
current hash is answered with ``Cache-Control: public, max-age=31536000, immutable``;
any other (a stale or missing hash) is left to revalidate.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Response, current_app, request, url_for

ONE_YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={ONE_YEAR}, immutable"


def static_url(path: str) -> str:
    """The URL of static file ``path`` with its content hash; a missing file is an error."""
    return url_for("static", filename=path, v=file_hash(path))


def file_hash(path: str) -> str:
    """Short content hash of static file ``path`` (re-read when the file changes)."""
    file = _static_root() / path
    try:
        stat = file.stat()
    except OSError:
        raise FileNotFoundError(
            f"static file {path!r} does not exist in {_static_root()}"
        ) from None
    return _digest(file, stat.st_mtime_ns, stat.st_size)


def cache_static(response: Response) -> Response:
    """Give a static file requested under its current hash a year of caching."""
    if request.endpoint != "static" or response.status_code != 200:
        return response
    filename = (request.view_args or {}).get("filename", "")
    try:
        current = file_hash(filename)
    except (FileNotFoundError, ValueError):
        return response
    if request.args.get("v") == current:
        response.headers["Cache-Control"] = IMMUTABLE
    return response


def _static_root() -> Path:
    return Path(current_app.static_folder or "static")


@lru_cache(maxsize=256)
def _digest(file: Path, mtime_ns: int, size: int) -> str:
    # mtime and size are part of the key so an edited file is hashed again.
    return hashlib.blake2b(file.read_bytes(), digest_size=6).hexdigest()
