"""LLM providers that ship with the core (deterministic and offline)."""

__all__: list[str] = []
