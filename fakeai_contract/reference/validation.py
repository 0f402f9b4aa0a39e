"""Chat request bodies: validated into a ChatRequest, or an OpenAI-style 400 error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass(eq=False)
class ApiError(Exception):
    """An error answer: HTTP status plus the OpenAI error object."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, Any]:
        """The OpenAI error body."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}


@dataclass(frozen=True)
class ChatRequest:
    """What the server needs from a valid chat completion request."""

    model: str
    stream: bool
    max_tokens: int | None
    include_usage: bool
    prompt_tokens: int
    ignore_eos: bool = False


def _invalid(param: str | None, message: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_bool(param: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _invalid(param, f"Invalid type for '{param}': expected a boolean, got {_type_name(value)}.",
                       "invalid_type")


def _check_positive_int(param: str, value: Any) -> None:
    if not _is_int(value):
        raise _invalid(param, f"Invalid type for '{param}': expected an integer, got {_type_name(value)}.",
                       "invalid_type")
    if value < 1:
        raise _invalid(param, f"Invalid '{param}': integer below minimum value. Expected a value >= 1, "
                              f"got {value}.", "integer_below_min_value")


def _range_check(low: float, high: float) -> Callable[[str, Any], None]:
    def check(param: str, value: Any) -> None:
        if not _is_number(value):
            raise _invalid(param, f"Invalid type for '{param}': expected a number, got {_type_name(value)}.",
                           "invalid_type")
        if not low <= value <= high:
            raise _invalid(param, f"Invalid '{param}': expected a value between {low} and {high}, got {value}.")
    return check


def _check_stream_options(param: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise _invalid(param, f"Invalid type for '{param}': expected an object, got {_type_name(value)}.",
                       "invalid_type")
    if "include_usage" in value:
        _check_bool(f"{param}.include_usage", value["include_usage"])


#: Optional parameters the server checks; null means "not given", as in the OpenAI API.
OPTIONAL_PARAMS: dict[str, Callable[[str, Any], None]] = {
    "stream": _check_bool,
    "max_tokens": _check_positive_int,
    "max_completion_tokens": _check_positive_int,
    "temperature": _range_check(0.0, 2.0),
    "top_p": _range_check(0.0, 1.0),
    "stream_options": _check_stream_options,
    "ignore_eos": _check_bool,          # vLLM, SGLang and llama.cpp: generate exactly max_tokens
}

#: The most tokens an ignore_eos request may ask for (the reference keeps a completion in memory).
MAX_IGNORE_EOS_TOKENS = 100_000


def _content_words(param: str, content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content.split())
    if isinstance(content, list):
        words = 0
        for i, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise _invalid(f"{param}[{i}]", f"Invalid '{param}[{i}]': expected an object with a 'type'.",
                               "invalid_type")
            text = part.get("text")
            if part["type"] == "text" and not isinstance(text, str):
                raise _invalid(f"{param}[{i}].text", f"Missing or invalid '{param}[{i}].text': "
                                                     "expected a string.", "invalid_type")
            words += len(text.split()) if isinstance(text, str) else 0
        return words
    raise _invalid(param, f"Invalid type for '{param}': expected a string or an array of content parts, "
                          f"got {_type_name(content)}.", "invalid_type")


def _prompt_words(messages: Any) -> int:
    if messages is None:
        raise _invalid("messages", "Missing required parameter: 'messages'.", "missing_required_parameter")
    if not isinstance(messages, list):
        raise _invalid("messages", f"Invalid type for 'messages': expected an array, got {_type_name(messages)}.",
                       "invalid_type")
    if not messages:
        raise _invalid("messages", "Invalid 'messages': empty array. Expected an array with minimum length 1.",
                       "empty_array")
    words = 0
    for i, message in enumerate(messages):
        param = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _invalid(param, f"Invalid type for '{param}': expected an object, got {_type_name(message)}.",
                           "invalid_type")
        role = message.get("role")
        if role not in ROLES:
            raise _invalid(f"{param}.role", f"Invalid value for '{param}.role': {role!r}. Supported values are: "
                                            f"{', '.join(sorted(ROLES))}.")
        words += _content_words(f"{param}.content", message.get("content"))
    return words


def _text_words(prompt: Any, param: str = "prompt") -> int:
    """Tokens of a completions `prompt` or an embeddings `input`: a string (one word is one token),
    a list of strings, a list of token ids, or a list of lists of token ids."""
    if prompt is None:
        raise _invalid(param, f"Missing required parameter: '{param}'.", "missing_required_parameter")
    if isinstance(prompt, str):
        return len(prompt.split())
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            return sum(len(p.split()) for p in prompt)
        if all(_is_int(p) for p in prompt):
            return len(prompt)
        if all(isinstance(p, list) and p and all(_is_int(t) for t in p) for p in prompt):
            return sum(len(p) for p in prompt)
    raise _invalid(param, f"Invalid '{param}': expected a string, an array of strings, an array of token ids "
                          f"or an array of arrays of token ids.", "invalid_type")


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Validate a chat completion body; raises ApiError (400) naming the offending parameter."""
    return _parse(raw, lambda body: _prompt_words(body.get("messages")))


def parse_completion_request(raw: bytes) -> ChatRequest:
    """Validate a (text) completion body: `prompt` instead of `messages`, the same parameters."""
    return _parse(raw, lambda body: _text_words(body.get("prompt")))


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "We could not parse the JSON body of your request. Expected a JSON object.",
                       code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"The request body must be a JSON object, got {_type_name(body)}.",
                       code="invalid_json")
    return body


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise _invalid("model", "Missing required parameter: 'model'.", "missing_required_parameter")
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model", f"Invalid 'model': expected a non-empty string, got {model!r}.", "invalid_type")
    return model


@dataclass(frozen=True)
class EmbeddingRequest:
    """What the server needs from a valid embeddings request."""

    model: str
    inputs: int                 # how many embeddings to return
    prompt_tokens: int
    dimensions: int


#: How long an embedding is unless the request asks for `dimensions`.
EMBEDDING_DIMENSIONS = 8
MAX_EMBEDDING_DIMENSIONS = 4096


def parse_embedding_request(raw: bytes) -> EmbeddingRequest:
    """Validate an embeddings body (model, input, optional dimensions and encoding_format)."""
    body = _json_object(raw)
    model = _model(body)
    tokens = _text_words(body.get("input"), "input")
    given = body.get("input")
    inputs = 1 if isinstance(given, str) or all(_is_int(t) for t in given) else len(given)
    dimensions = body.get("dimensions")
    if dimensions is not None:
        _check_positive_int("dimensions", dimensions)
        if dimensions > MAX_EMBEDDING_DIMENSIONS:
            raise _invalid("dimensions", f"Invalid 'dimensions': at most {MAX_EMBEDDING_DIMENSIONS}, got {dimensions}.")
    if body.get("encoding_format") not in (None, "float"):
        raise _invalid("encoding_format", "Invalid 'encoding_format': the reference server answers 'float' only, "
                                          f"got {body['encoding_format']!r}.")
    return EmbeddingRequest(model, inputs, max(1, tokens), dimensions or EMBEDDING_DIMENSIONS)


def _parse(raw: bytes, prompt_words) -> ChatRequest:
    body = _json_object(raw)
    model = _model(body)
    prompt_tokens = max(1, prompt_words(body))
    for param, check in OPTIONAL_PARAMS.items():
        if body.get(param) is not None:
            check(param, body[param])
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    stream = bool(body.get("stream"))
    options = body.get("stream_options") or {}
    ignore_eos = bool(body.get("ignore_eos"))
    if ignore_eos and max_tokens is not None and max_tokens > MAX_IGNORE_EOS_TOKENS:
        raise _invalid("max_tokens", f"With ignore_eos, max_tokens must be at most {MAX_IGNORE_EOS_TOKENS}, "
                                     f"got {max_tokens}.")
    return ChatRequest(model=model, stream=stream, max_tokens=max_tokens,
                       include_usage=stream and bool(options.get("include_usage")),
                       prompt_tokens=prompt_tokens, ignore_eos=ignore_eos)


def model_of(raw: bytes) -> str:
    """Best-effort model name of a body that failed validation, for error metrics."""
    try:
        model = json.loads(raw).get("model")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return "unknown"
    return model if isinstance(model, str) and model.strip() else "unknown"
