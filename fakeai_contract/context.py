"""What the phases of one run share: the contract, the options and the schemas (read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from fakeai_contract.model import Contract


class ServerHandle(Protocol):
    """The part of a started server process the phases need."""

    def poll(self) -> int | None: ...
    def tail(self, n: int = 20) -> list[str]: ...


@dataclass(frozen=True)
class RunOptions:
    """How to run a contract, from the command line."""

    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    verbose: bool = False
    log_source: Any = None                  # logsource.CapturedLog | TailedLog | None
    server: ServerHandle | None = None      # a server this run started
    observer: Callable[[str, dict], None] | None = None   # progress events for a live display
    workers: int = 1                        # processes that send the traffic (--workers)


@dataclass(frozen=True)
class RunContext:
    """One run's read-only inputs; phases read it and return what they found, the runner records it."""

    contract: Contract
    options: RunOptions
    schemas: Any                            # checks.schema.SchemaStore: .errors(name, document)

    def notify(self, event: str, **data: Any) -> None:
        if self.options.observer is not None:
            try:
                self.options.observer(event, data)
            except Exception:  # noqa: BLE001 - a display must never break a run
                pass

    def location(self, item: Any) -> str | None:
        loc = getattr(item, "location", None)
        return str(loc) if loc else None
