"""Secret redaction over a ledger document."""

from __future__ import annotations

import copy

from fakeai_contract.redact import MASK, redact


def test_every_occurrence_in_keys_and_values_is_masked():
    doc = {"a": "Bearer sk-123456 and sk-123456", "sk-123456": ["x sk-123456 y", {"k": "sk-123456"}],
           "n": 3, "f": 1.5, "b": True, "none": None}
    out = redact(doc, ["sk-123456"])
    assert out == {"a": "Bearer *** and ***", "***": ["x *** y", {"k": "***"}],
                   "n": 3, "f": 1.5, "b": True, "none": None}


def test_longest_secret_first():
    out = redact({"v": "xxabcdefghyy abcd"}, ["abcd", "abcdefgh"])
    assert out == {"v": "xx***yy ***"}


def test_short_empty_and_non_string_secrets_are_ignored():
    doc = {"v": "a key abc, the empty string, None"}
    assert redact(doc, ["abc", "", None, 12345, "a"]) == doc


def test_regex_metacharacters_are_literal():
    assert redact(["p.a+s$s(1)", "pXaas$s(1)"], ["p.a+s$s(1)"]) == ["***", "pXaas$s(1)"]


def test_returns_a_deep_copy_and_leaves_the_input_alone():
    doc = {"entries": [{"observed": {"list": [1, 2]}, "message": "token-abcdef"}]}
    before = copy.deepcopy(doc)
    out = redact(doc, ["token-abcdef"])
    assert doc == before
    out["entries"][0]["observed"]["list"].append(3)
    assert doc["entries"][0]["observed"]["list"] == [1, 2]
    untouched = redact(doc, [])
    assert untouched == doc and untouched is not doc
    assert untouched["entries"][0] is not doc["entries"][0]


def test_tuples_bytes_and_objects_are_scrubbed():
    class Holder:
        def __str__(self):
            return "holder of secret-value"

    out = redact({"t": ("secret-value", 1), "b": b"secret-value!", "o": Holder()}, ["secret-value"])
    assert out == {"t": (MASK, 1), "b": "***!", "o": "holder of ***"}


def test_keys_masked_alike_keep_both_values():
    out = redact({"sk-aaaa1": 1, "sk-aaaa2": 2}, ["sk-aaaa1", "sk-aaaa2"])
    assert sorted(out.values()) == [1, 2]
    assert all(MASK in k for k in out)
