"""The Live page: the fleet's measured output against its target over the last hour,
refreshed in place every few seconds (``static/js/live.js`` reads the JSON API with
the page's session), and the silent plants a page at a time."""

from flask import Blueprint, render_template, request

from vpp.routing import query_whole_number
from vpp.schemas import MAX_PAGE
from vpp.services import pages, telemetry

bp = Blueprint("live", __name__)
SILENT_PAGE_SIZE = 25
# How often the page asks for new figures (the silence check runs every quarter of
# VPP_STALE_AFTER_S; readings land every second).
REFRESH_MS = 3000


@bp.get("/live")
def live():
    page = query_whole_number(request.args.get("page"), 1, MAX_PAGE) or 1
    silent, total = telemetry.silent_page(page, SILENT_PAGE_SIZE)
    series = telemetry.fleet_series(None, None, 1)
    return render_template(
        "live.html",
        status=telemetry.status(),
        series=series,
        silent=silent,
        page=page,
        pages=pages.page_count(total, SILENT_PAGE_SIZE),
        total=total,
        refresh_ms=REFRESH_MS,
    )
