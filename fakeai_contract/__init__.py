"""fakeai-contract: a declarative contract tester for OpenAI-compatible LLM servers."""

__version__ = "0.1.0"
