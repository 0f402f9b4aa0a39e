"""Pure parts of the measurement model: arrival schedules, the saturation rule, exact stats merging."""

from __future__ import annotations

import asyncio
import pickle
import random
import statistics
import time

import pytest

from fakeai_contract.arrivals import intended_offsets
from fakeai_contract.client_stats import ClientStats
from fakeai_contract.monitor import LAG_LIMIT_S, Monitor, saturation_reasons


def test_constant_schedule_has_exact_spacing_and_no_drift():
    offsets = list(intended_offsets(200, count=2001))
    assert offsets[0] == 0.0
    assert offsets[-1] == pytest.approx(10.0, abs=1e-12)
    gaps = {round(b - a, 9) for a, b in zip(offsets, offsets[1:])}
    assert gaps == {0.005}


def test_duration_bounds_the_schedule():
    offsets = list(intended_offsets(50, duration_s=2.0))
    assert len(offsets) == 100 and max(offsets) < 2.0


def test_poisson_schedule_is_seeded_and_has_the_asked_rate():
    a = list(intended_offsets(100, "poisson", count=5000, seed=7))
    b = list(intended_offsets(100, "poisson", count=5000, seed=7))
    c = list(intended_offsets(100, "poisson", count=5000, seed=8))
    assert a == b and a != c
    gaps = [y - x for x, y in zip(a, a[1:])]
    assert statistics.mean(gaps) == pytest.approx(0.01, rel=0.05)
    # exponential gaps: the standard deviation equals the mean
    assert statistics.stdev(gaps) == pytest.approx(0.01, rel=0.08)


@pytest.mark.parametrize("kw", [{"rate": 0}, {"rate": -1}, {"rate": 1, "arrival": "burst"}])
def test_bad_schedules_are_refused(kw):
    with pytest.raises(ValueError):
        list(intended_offsets(count=1, **kw))


def _runner(samples=100, share=0.0, cpu=0.2, p99=0.001, wall=5.0):
    return {"samples": samples, "loop_lag_s": {"share_over_limit": share, "p99": p99},
            "cpu": {"mean_share_of_core": cpu, "wall_s": wall}}


def test_saturation_rule():
    assert saturation_reasons(_runner()) == []
    lag = saturation_reasons(_runner(share=0.3, p99=0.02))
    assert len(lag) == 1 and "event-loop lag" in lag[0] and "30%" in lag[0]
    cpu = saturation_reasons(_runner(cpu=0.97))
    assert len(cpu) == 1 and "97%" in cpu[0]
    assert len(saturation_reasons(_runner(share=0.5, cpu=0.99))) == 2
    # too short a run to judge
    assert saturation_reasons(_runner(samples=2, share=1.0, cpu=1.0)) == []
    assert saturation_reasons(_runner(wall=0.3, share=1.0, cpu=1.0)) == []
    # a loop so late it took few samples is still judged, by the time it covered
    assert saturation_reasons(_runner(samples=4, share=1.0, p99=0.5, wall=2.0))


def test_monitor_sees_a_blocked_loop_and_a_quiet_one():
    async def run(block: bool) -> dict:
        m = Monitor(interval_s=0.01)
        m.start()
        for _ in range(30):
            m.started()
            if block:
                t = time.monotonic()
                while time.monotonic() - t < 0.02:   # busy: the loop cannot wake its timers
                    pass
            await asyncio.sleep(0.01)
            m.finished()
        await m.stop()
        return m.summary()

    quiet = asyncio.run(run(False))
    busy = asyncio.run(run(True))
    assert quiet["samples"] >= 10 and busy["samples"] >= 10
    assert busy["loop_lag_s"]["p50"] > LAG_LIMIT_S
    assert busy["saturated"], busy
    assert busy["in_flight"]["peak"] == 1
    assert busy["cpu"]["mean_share_of_core"] > quiet["cpu"]["mean_share_of_core"]


def _fill(stats: ClientStats, rng: random.Random, n: int, open_loop: bool, first: int = 0) -> None:
    for i in range(n):
        stream = i % 2 == 0
        stats.add(model=rng.choice(["a", "b", "c"]), stream=stream, ok=rng.random() > 0.1,
                  latency_s=rng.random(), ttft_s=rng.random() / 10 if stream else None,
                  itl_s=[rng.random() / 100 for _ in range(3)] if stream else None, chunks=4,
                  done=stream, usage={"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
                  send_delay_s=rng.random() / 50 if open_loop else None, seq=first + i, start_s=rng.random())


@pytest.mark.parametrize("open_loop", [False, True])
def test_merged_stats_equal_one_process_stats(open_loop):
    whole = ClientStats()
    parts = [ClientStats() for _ in range(3)]
    for k, part in enumerate(parts):
        _fill(part, random.Random(k), 101 + k, open_loop, first=1000 * k)
        _fill(whole, random.Random(k), 101 + k, open_loop, first=1000 * k)
    merged = ClientStats()
    for part in parts:
        merged.merge(pickle.loads(pickle.dumps(part)))
    assert merged.to_dict() == whole.to_dict()
    assert merged.timeline_dict() == whole.timeline_dict()
    assert ("intended" in merged.to_dict()) is open_loop
