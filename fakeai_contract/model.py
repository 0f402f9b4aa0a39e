"""The validated contract as frozen dataclasses; every item keeps its source location."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakeai_contract.errors import Location

@dataclass(frozen=True)
class Target:
    """Where the server is and how to talk to it."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    request_timeout: float = 15.0      # total deadline per request, stream body included
    connect_timeout: float = 5.0
    read_timeout: float = 10.0         # longest silence between two reads
    max_body_bytes: int = 8 * 1024 * 1024
    max_redirects: int = 3
    tls_verify: bool = True            # target.tls.verify; --insecure turns it off
    ca_file: str | None = None         # target.tls.ca_file: PEM CA certificates to trust


#: What a health answer must be to count as healthy (health.expect).
HEALTH_EXPECTS = ("json", "any-2xx")


@dataclass(frozen=True)
class Health:
    """The health wait: poll PATH until it answers 2xx (and, with a schema, validates)."""

    path: str = "/health"
    timeout: float = 45.0
    interval: float = 0.5
    schema: str | None = None
    expect: str = "json"          # json: a 2xx JSON body; any-2xx: any 2xx, empty or not JSON included
    enabled: bool = True          # health: false turns the wait off
    location: Location | None = None


#: HTTP methods a mix entry may use; only the first three send the body.
METHODS = ("POST", "PUT", "PATCH", "GET", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")
#: How the mix entries' requests follow one another (load.order).
ORDERS = ("sequential", "interleave", "shuffle")


@dataclass(frozen=True)
class MixEntry:
    """One kind of request in the load: COUNT requests with BODY, models assigned in turn."""

    name: str
    count: int
    body: dict[str, Any]
    response_schema: str | None = None
    chunk_schema: str | None = None
    models: tuple[str, ...] | None = None   # overrides Load.models for this entry
    path: str | None = None                 # overrides Load.path for this entry
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)   # merged over the target's headers
    location: Location | None = None

    @property
    def is_streaming(self) -> bool:
        return bool(self.body.get("stream"))


@dataclass(frozen=True)
class Load:
    """The request mix."""

    path: str = "/v1/chat/completions"
    models: tuple[str, ...] = ()
    concurrency: int = 1
    mix: tuple[MixEntry, ...] = ()
    itemize: int = 50        # one ledger entry per request up to this many requests, else aggregated
    rate: float | None = None            # open loop: requests per second on a schedule
    arrival: str = "constant"            # constant | poisson
    duration: float | None = None        # seconds: cycle the mix until the time is up
    max_in_flight: int = 1024            # open loop: cap on outstanding requests
    seed: int = 0
    order: str = "sequential"            # sequential | interleave | shuffle (seeded by seed)
    location: Location | None = None

    @property
    def is_open_loop(self) -> bool:
        return self.rate is not None


@dataclass(frozen=True)
class Settle:
    """Poll the endpoints until UNTIL holds or TIMEOUT passes (then checks run on what is there)."""

    until: str
    timeout: float = 5.0
    interval: float = 0.2
    location: Location | None = None


@dataclass(frozen=True)
class Endpoint:
    """A metrics endpoint: fetched before and after the load, validated against SCHEMA."""

    name: str
    path: str
    schema: str | None = None
    format: str = "json"                 # json | prometheus
    metrics: tuple[str, ...] | None = None   # prometheus: the metric names it declares (None: any)
    optional_metrics: tuple[str, ...] = ()   # declared too, but the exposition may lack them
    location: Location | None = None


@dataclass(frozen=True)
class Eventually:
    """Re-fetch and re-check until the check holds or TIMEOUT passes."""

    timeout: float
    interval: float = 0.2


@dataclass(frozen=True)
class Check:
    """A rule over the evaluation document: THAT <op> EXPECTED, within TOLERANCE."""

    id: str
    name: str
    that: str                            # JMESPath over the evaluation document
    op: str                              # a name in checks.operators.OPERATORS
    expected: Any = None                 # JMESPath string, literal, or [lo, hi] for between
    tolerance: float | str | None = None  # absolute number, "N%", or "bucket" (checks.operators.BUCKET)
    severity: str = "error"
    tags: tuple[str, ...] = ()
    eventually: Eventually | None = None
    description: str | None = None
    location: Location | None = None


@dataclass(frozen=True)
class LogRules:
    """Regular expressions over the server's log lines gained during the run."""

    fail_on: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    max_findings: int = 5
    location: Location | None = None


@dataclass(frozen=True)
class ServerSpec:
    """A server the runner starts, waits for, captures and stops."""

    command: tuple[str, ...] | str
    shell: bool = False
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 45.0
    stop_signal: str = "SIGTERM"
    grace: float = 5.0
    location: Location | None = None


@dataclass(frozen=True)
class Removal:
    """An inherited item an overlay removed: KIND (endpoint, check, mix entry) NAME, where and whence."""

    kind: str
    name: str
    location: Location | None = None     # the line that removes it
    origin: Location | None = None       # where the removed item was defined

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}" + (f" (defined at {self.origin})" if self.origin else "") \
            + (f", removed at {self.location}" if self.location else "")


@dataclass(frozen=True)
class Contract:
    """A loaded, merged, variable-resolved and validated contract."""

    name: str
    source: Path                         # the contract file the user named
    target: Target
    version: int = 1
    description: str = ""
    vars: dict[str, Any] = field(default_factory=dict)
    health: Health = field(default_factory=Health)
    load: Load = field(default_factory=Load)
    settle: Settle | None = None
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    logs: LogRules = field(default_factory=LogRules)
    server: ServerSpec | None = None
    secrets: frozenset[str] = frozenset()    # values to redact in every output
    schema_dirs: tuple[Path, ...] = ()       # where schema references resolve, in order
    files: tuple[Path, ...] = ()             # every file merged in (extends chain), base first
    removed: tuple[Removal, ...] = ()        # inherited items the overlays removed
    # The loader's checks.schema.SchemaStore, every named schema already read and checked, so a
    # run does not read and check them again.
    schema_store: Any = field(default=None, compare=False, repr=False)
