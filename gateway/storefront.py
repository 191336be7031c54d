"""The storefront at `/`: plain HTML, CSS and JavaScript from gateway/static/ (no build step).

The page uses only the JSON API and `GET /api/events`; Flask serves its files from
`/static/` by itself, this blueprint adds the page at `/`.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, send_from_directory

bp = Blueprint("storefront", __name__)


@bp.get("/")
def index() -> Response:
    return send_from_directory(current_app.static_folder or "static", "index.html",
                               max_age=0)
