"""Pure: Contract → Plan. The mix expanded deterministically into concrete requests."""

from __future__ import annotations

import dataclasses
import heapq
import random
from array import array
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from fakeai_contract.model import BODY_METHODS, Contract, MixEntry

#: A `load.models` (or mix entry `models`) name that stands for the models the server lists.
AUTO = "auto"
#: Where `auto` is discovered, against the server root as every contract path is.
MODELS_PATH = "/v1/models"
AUTO_TEXT = f"discovered from {MODELS_PATH} at run time"

#: What a request path asks for, by how it ends: how its answer is read, checked and counted.
KINDS = (("/chat/completions", "chat"), ("/completions", "completions"), ("/embeddings", "embeddings"))


def kind_of(path: str) -> str:
    """chat, completions or embeddings: the API a request to PATH speaks (chat for any other path)."""
    bare = path.split("?", 1)[0].rstrip("/")
    return next((kind for suffix, kind in KINDS if bare.endswith(suffix)), "chat")


def path_of(contract: Contract, mix: MixEntry) -> str:
    """Where MIX's requests go: its own path, else load.path."""
    return mix.path or contract.load.path


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One request of the load: which mix entry, which model, its place in the run."""

    seq: int            # 1-based position in the whole run
    of: int             # total requests in the run
    mix: MixEntry
    n: int              # 1-based position within its mix entry
    model: str
    path: str = ""      # where it goes (the entry's path or load.path)

    @property
    def is_streaming(self) -> bool:
        return self.mix.is_streaming

    @property
    def kind(self) -> str:
        return kind_of(self.path)

    def body(self) -> dict[str, Any] | None:
        """The request body, with {n} and {model} filled in and the model set (None: the method sends none)."""
        if self.mix.method not in BODY_METHODS:
            return None
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


def uses_auto(contract: Contract) -> bool:
    """Whether any model list of CONTRACT names `auto` (the served models are discovered)."""
    lists = [contract.load.models, *(m.models or () for m in contract.load.mix)]
    return any(AUTO in models for models in lists)


def _resolved(models: tuple[str, ...], served: tuple[str, ...]) -> tuple[str, ...]:
    if AUTO not in models:
        return models
    explicit = [m for m in models if m != AUTO]
    out: list[str] = []
    for name in models:
        for m in ([n for n in served if n not in explicit] if name == AUTO else [name]):
            if m not in out:
                out.append(m)
    return tuple(out)


def with_served_models(contract: Contract, served: tuple[str, ...]) -> Contract:
    """CONTRACT with every `auto` replaced by SERVED (in order, without the names listed beside it)."""
    load = contract.load
    mix = tuple(dataclasses.replace(m, models=_resolved(m.models, served)) if m.models else m for m in load.mix)
    return dataclasses.replace(contract, load=dataclasses.replace(load, models=_resolved(load.models, served),
                                                                  mix=mix))


def planned_models(contract: Contract) -> list[str]:
    """The models the load sends to, in the order the plan first uses them (the client's `models`)."""
    out: dict[str, None] = {}
    for mix in contract.load.mix:
        models = models_for(contract, mix)
        # a duration run cycles the mix, so every model of an entry is reached in the end
        out.update(dict.fromkeys(models if contract.load.duration is not None else models[:mix.count]))
    return list(out)


def total_requests(contract: Contract) -> int:
    return sum(m.count for m in contract.load.mix)


def _interleaved(mix: tuple[MixEntry, ...]) -> Iterator[int]:
    """Entry indexes spread evenly: entry i's j-th request at (j + 1/2) / count_i of the cycle."""
    def keyed(i: int, count: int) -> Iterable[tuple[float, int]]:
        return (((j + 0.5) / count, i) for j in range(count))
    return (i for _, i in heapq.merge(*(keyed(i, m.count) for i, m in enumerate(mix))))


def _cycle_order(load, rng: random.Random) -> Iterable[int]:
    """The mix entry index of each request of one cycle of the mix, in load.order."""
    if load.order == "interleave":
        return _interleaved(load.mix)
    order = array("I", (i for i, m in enumerate(load.mix) for _ in range(m.count)))
    if load.order == "shuffle":
        rng.shuffle(order)
    return order


def iter_requests(contract: Contract) -> Iterator[PlannedRequest]:
    """Every request of the load, in load.order, models assigned round-robin within each entry.

    sequential: each entry's requests in turn; interleave: the entries' requests spread evenly
    through the run; shuffle: a random order seeded by load.seed (the same seed, the same order).
    A `load.duration` run has no fixed total: the mix is cycled for as long as the caller takes
    requests (each entry's count is its share of every cycle), and `of` is 0.
    """
    load = contract.load
    cycle = load.duration is not None
    total = 0 if cycle else total_requests(contract)
    rng = random.Random(f"order:{load.seed}")     # its own stream: arrivals draw from the seed too
    paths = [path_of(contract, mix) for mix in load.mix]
    models = [models_for(contract, mix) for mix in load.mix]
    numbers = [0] * len(load.mix)
    seq = 0
    while True:
        for i in _cycle_order(load, rng):
            seq += 1
            numbers[i] += 1
            n = numbers[i]
            yield PlannedRequest(seq=seq, of=total, mix=load.mix[i], n=n,
                                 model=models[i][(n - 1) % len(models[i])], path=paths[i])
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
