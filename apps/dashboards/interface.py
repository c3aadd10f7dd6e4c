"""What other apps' pages call to go live (the payment review queue's changelist)."""

from django.urls import reverse

from apps.dashboards import selectors


def live_page_context(user, stream: str) -> dict:
    """Template context for a page that listens to `stream` (empty when the user may not):
    `live.stream`, `live.cursor` (the newest event id at render: catch-up starts there),
    `live.catchup_url`."""
    if not selectors.stream_allowed(user, stream):
        return {}
    return {
        "live": {
            "stream": stream,
            "cursor": selectors.live_cursor(),
            "catchup_url": reverse("admin:dashboards_dashboard_catchup"),
        }
    }
