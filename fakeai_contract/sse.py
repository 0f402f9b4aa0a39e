"""An incremental, spec-correct Server-Sent Events parser (WHATWG HTML, "event stream").

Bytes go in as they arrive; complete events come out. Lines end in CRLF, LF or a lone CR (a CR at
the end of one chunk may pair with an LF at the start of the next); lines starting with ':' are
comments; `data` lines of one event are joined with '\\n'; a blank line dispatches; an event with no
data is not dispatched; one leading UTF-8 BOM is dropped.
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Event(NamedTuple):
    """One dispatched event."""

    # A named tuple rather than a frozen dataclass: one is built per stream chunk, and a frozen
    # dataclass's __init__ (object.__setattr__ per field) cost more than the rest of the parse.
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """Feed bytes with `feed`; it returns the events those bytes completed."""

    __slots__ = ("_decoder", "_buffer", "_data", "_event", "_id", "_retry", "_started", "_pending_cr",
                 "comments")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._started = False
        self._pending_cr = False
        self.comments = 0

    def feed(self, chunk: bytes) -> list[Event]:
        """Parse CHUNK; return the events it completed, in order."""
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]          # the LF of a CRLF split across chunks
        self._pending_cr = False
        if not text:
            return []
        text = self._buffer + text
        if "\r" in text:
            lines = _LINE_BREAK.split(text)
            self._pending_cr = text.endswith("\r")
        else:
            lines = text.split("\n")
        self._buffer = lines.pop()    # the unterminated tail
        events: list[Event] = []
        data = self._data
        for line in lines:
            # The lines of an LLM stream are almost all `data: ...` and blank: handled inline.
            if line.startswith("data:"):
                data.append(line[6:] if line.startswith(" ", 5) else line[5:])
            elif not line:
                if data:
                    events.append(self._dispatch())
                else:
                    self._event = ""
            else:
                self._line(line)
        return events

    def close(self) -> list[Event]:
        """End of stream: an incomplete trailing event is discarded, as the spec says."""
        self._buffer = ""
        self._data.clear()
        return []

    @property
    def has_partial(self) -> bool:
        """True when bytes of an event that was never completed are buffered."""
        return bool(self._buffer or self._data)

    def _line(self, line: str) -> None:
        """A field or comment line (feed handles data and blank lines itself)."""
        if line[0] == ":":
            self.comments += 1
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        handler = _FIELDS.get(name)
        if handler is not None:
            handler(self, value)

    def _dispatch(self) -> Event | None:
        data = self._data
        if not data:
            self._event = ""
            return None
        event = Event(data[0] if len(data) == 1 else "\n".join(data), self._event or "message", self._id,
                      self._retry)
        data.clear()            # the same list: feed holds it across the lines of one chunk
        self._event = ""
        return event

    def _set_data(self, value: str) -> None:
        self._data.append(value)

    def _set_event(self, value: str) -> None:
        self._event = value

    def _set_id(self, value: str) -> None:
        if "\0" not in value:
            self._id = value

    def _set_retry(self, value: str) -> None:
        if value.isascii() and value.isdigit():
            self._retry = int(value)


_FIELDS = {
    "data": SSEParser._set_data,
    "event": SSEParser._set_event,
    "id": SSEParser._set_id,
    "retry": SSEParser._set_retry,
}


def parse_all(payload: bytes, chunk_size: int | None = None) -> list[Event]:
    """Parse a whole payload (optionally in chunks of CHUNK_SIZE bytes); for tests and tools."""
    parser = SSEParser()
    if not chunk_size:
        return parser.feed(payload) + parser.close()
    events: list[Event] = []
    for i in range(0, len(payload), chunk_size):
        events.extend(parser.feed(payload[i:i + chunk_size]))
    return events + parser.close()
