"""Static files: fingerprinted URLs with long cache lifetimes, and the precompressed twin
(`.br`, `.gz`) a browser accepts, never one older than its file."""

from __future__ import annotations

import hashlib
import mimetypes
import os
from datetime import timedelta
from pathlib import Path
from typing import Final

from flask import (
    Response,
    current_app,
    has_request_context,
    request,
    send_file,
    url_for,
)
from werkzeug.security import safe_join

STATIC_MAX_AGE: Final = int(timedelta(days=365).total_seconds())


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest[:12]


def asset_url(filename: str) -> str:
    """URL of a static file with a content hash, so it can be cached for a year.

    The static files are part of the release a process serves, so each URL is made once per
    process; in debug mode, again for every page, so that edited files get a new hash."""
    cache: dict[tuple[str, str], str] = current_app.extensions["sarportal.assets"]
    key = (filename, request.script_root if has_request_context() else "")
    found = cache.get(key)
    if found is None or current_app.debug:
        found = cache[key] = _fingerprinted_url(filename)
    return found


def _fingerprinted_url(filename: str) -> str:
    path = Path(current_app.static_folder or "") / filename
    try:
        digest = _fingerprint(path)
    except OSError:
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, v=digest)


PRECOMPRESSED: Final = (("br", ".br"), ("gzip", ".gz"))
"""The encodings `scripts/build_assets.py` writes beside each text asset, best first."""


def send_static(filename: str) -> Response:
    """A static file, or its precompressed twin (`name.br`, `name.gz`) when the browser accepts
    that encoding and the twin is not older than the file (an edited file is sent as it is until
    `make install` compresses it again)."""
    app = current_app
    path = safe_join(app.static_folder or "", filename)
    if path is None or not os.path.isfile(path):
        return app.send_static_file(filename)
    twins = [(name, path + suffix) for name, suffix in PRECOMPRESSED]
    twins = [(name, twin) for name, twin in twins if _fresh_twin(twin, path)]
    for encoding, twin in twins:
        if request.accept_encodings[encoding]:
            response = send_file(
                twin,
                mimetype=mimetypes.guess_type(filename)[0] or "application/octet-stream",
                max_age=app.get_send_file_max_age(filename),
                conditional=True,
            )
            response.content_encoding = encoding
            break
    else:
        response = app.send_static_file(filename)
    if twins:
        response.vary.add("Accept-Encoding")  # caches keep one copy per encoding
    return response


def _fresh_twin(twin: str, original: str) -> bool:
    try:
        return os.stat(twin).st_mtime >= os.stat(original).st_mtime
    except OSError:
        return False


def cache_static(response: Response) -> Response:
    if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = STATIC_MAX_AGE
        response.cache_control.immutable = True
    return response
