"""Selectors follow PromQL's matcher rules: anchored regexes, absent label = empty value."""

from __future__ import annotations

import pytest

from fakeai_contract.prometheus import SelectorError, parse_selector

SERIES = {"model_name": "llama-3-8b", "finished_reason": "stop"}


@pytest.mark.parametrize("text, held", [
    ("vllm:request_success_total", True),
    ('vllm:request_success_total{finished_reason="stop"}', True),
    ('vllm:request_success_total{finished_reason!="stop"}', False),
    ('vllm:request_success_total{model_name=~"llama.*"}', True),
    ('vllm:request_success_total{model_name=~"llama"}', False),          # anchored at both ends
    ('vllm:request_success_total{model_name=~"3-8"}', False),
    ('vllm:request_success_total{model_name!~"llama.*"}', False),
    ('vllm:request_success_total{model_name!~"gpt.*"}', True),
    ('vllm:request_success_total{model_name=~"LLAMA.*"}', False),        # case-sensitive
    ('vllm:request_success_total{model_name=~"(?i)LLAMA.*"}', True),
    ('vllm:request_success_total{absent=""}', True),                      # absent = empty
    ('vllm:request_success_total{absent!=""}', False),
    ('vllm:request_success_total{absent=~".*"}', True),
    ('vllm:request_success_total{absent=~".+"}', False),
    ('vllm:other_total', False),
    ('{__name__="vllm:request_success_total"}', True),
    ('{__name__=~"vllm:request_.*", finished_reason="stop",}', True),     # trailing comma
    ("vllm:request_success_total{finished_reason='stop'}", True),         # single quotes
    ("vllm:request_success_total{finished_reason=`stop`}", True),         # raw string
    ('  vllm:request_success_total { finished_reason = "stop" }  ', True),
])
def test_matcher_rules(text, held):
    assert parse_selector(text).matches("vllm:request_success_total", SERIES) is held


def test_escapes_in_values():
    s = parse_selector(r'm{path="a\"b\\c\n", raw=`a\"b`}')
    assert s.matchers[0].value == 'a"b\\c\n' and s.matchers[1].value == 'a\\"b'
    assert s.matches("m", {"path": 'a"b\\c\n', "raw": 'a\\"b'})


def test_regex_dot_matches_newline():
    assert parse_selector('m{v=~"a.b"}').matches("m", {"v": "a\nb"})


@pytest.mark.parametrize("text, reason, column", [
    ("", "expected a metric name", 1),
    ("9metric", "expected a metric name", 1),
    ('m{a="x"', "expected ',' or '}'", 8),
    ('m{a="x}', "unterminated string", 5),
    ("m{a=x}", "expected a quoted label value", 5),
    ('m{a=="x"}', "expected a quoted label value", 5),
    ('m{a~"x"}', "expected one of = != =~ !~", 4),
    ('m{1a="x"}', "expected a label name", 3),
    ('m{a=~"("}', "invalid regular expression", 3),
    ('m{a="\\q"}', "unknown escape", 6),
    ('m{a="x"} extra', "unexpected 'e'", 10),
    ('m{__name__="m"}', "metric name set twice", 1),
    ('{a=""}', "needs a metric name or a matcher", 1),
    ('{a=~".*"}', "needs a metric name or a matcher", 1),
])
def test_errors_say_what_and_where(text, reason, column):
    with pytest.raises(SelectorError) as err:
        parse_selector(text)
    assert reason in err.value.reason and err.value.column == column
    assert f"`{text}`" in str(err.value)


def test_str_round_trips():
    s = parse_selector('m{a="x\\"y", b=~"z.*"}')
    assert parse_selector(str(s)) == parse_selector(str(s)) and str(s) == 'm{a="x\\"y", b=~"z.*"}'
    assert parse_selector(str(s)).matchers == s.matchers
