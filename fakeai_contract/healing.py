"""Which answers waiting cannot change: the health wait, settle and `eventually` stop on them at once."""

from __future__ import annotations

from urllib.parse import urlsplit

#: 4xx answers that may change with time (timeout, too early, rate limited): waiting can help.
TRANSIENT_4XX = frozenset({408, 425, 429})

#: status → what to do about it, for the health wait's message.
_HINTS = {
    401: "the server wants credentials: set target.headers (e.g. Authorization: \"Bearer ${API_KEY}\") "
         "or put user:password@ in the base URL",
    403: "the server refuses these credentials: check the API key or the user in the base URL",
    404: "nothing is served there: set health.path to the server's health endpoint, or check the base "
         "URL's path prefix",
    405: "the server does not answer GET there: set health.path to an endpoint that does",
}


def is_final(status: int | None) -> bool:
    """True for an HTTP answer that will not change by waiting (4xx other than 408, 425, 429)."""
    return status is not None and 400 <= status < 500 and status not in TRANSIENT_4XX


def hint(status: int | None, url: str) -> str:
    """What to do about a final answer STATUS from URL, in one sentence."""
    text = _HINTS.get(status or 0, "a client error does not heal by waiting: check the path and the request")
    if status == 404 and "/v1/" in urlsplit(url).path:
        text = ("the base URL ends in /v1? it is the API root, and health and metrics paths resolve against "
                "the server root, so write them without /v1; or " + text)
    return text
