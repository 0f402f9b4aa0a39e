"""Pure: Contract → Plan. The mix expanded deterministically into concrete requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from fakeai_contract.model import Contract, MixEntry


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One request of the load: which mix entry, which model, its place in the run."""

    seq: int            # 1-based position in the whole run
    of: int             # total requests in the run
    mix: MixEntry
    n: int              # 1-based position within its mix entry
    model: str

    @property
    def is_streaming(self) -> bool:
        return self.mix.is_streaming

    def body(self) -> dict[str, Any]:
        """The request body, with {n} and {model} filled in and the model set."""
        body = _fill(self.mix.body, {"n": str(self.n), "model": self.model, "seq": str(self.seq)})
        body["model"] = self.model
        if self.is_streaming:
            body["stream"] = True
        return body


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        if "{" not in value:
            return value
        for key, text in values.items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def models_for(contract: Contract, mix: MixEntry) -> tuple[str, ...]:
    models = mix.models or contract.load.models
    if not models:
        model = mix.body.get("model")
        models = (model,) if isinstance(model, str) else ("default",)
    return tuple(models)


def total_requests(contract: Contract) -> int:
    return sum(m.count for m in contract.load.mix)


def iter_requests(contract: Contract) -> Iterator[PlannedRequest]:
    """Every request of the load, in order: mix entries in turn, models assigned round-robin.

    A `load.duration` run has no fixed total: the mix is cycled for as long as the caller takes
    requests (each entry's count is its share of every cycle), and `of` is 0.
    """
    cycle = contract.load.duration is not None
    total = 0 if cycle else total_requests(contract)
    seq = 0
    numbers = {mix.name: 0 for mix in contract.load.mix}
    while True:
        for mix in contract.load.mix:
            models = models_for(contract, mix)
            for _ in range(mix.count):
                seq += 1
                numbers[mix.name] += 1
                n = numbers[mix.name]
                yield PlannedRequest(seq=seq, of=total, mix=mix, n=n, model=models[(n - 1) % len(models)])
        if not cycle or not seq:
            return


def requests_by_model(contract: Contract) -> dict[str, dict[str, int]]:
    """How many requests each model gets, by kind: the shape `explain` prints."""
    counts: dict[str, dict[str, int]] = {}
    for mix in contract.load.mix:
        models = models_for(contract, mix)
        kind = "streaming" if mix.is_streaming else "non_streaming"
        for i, model in enumerate(models):
            n = mix.count // len(models) + (1 if i < mix.count % len(models) else 0)
            if n:
                row = counts.setdefault(model, {"streaming": 0, "non_streaming": 0})
                row[kind] += n
    return counts
