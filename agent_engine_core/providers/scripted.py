"""The ``scripted`` provider: a declared test double that answers from the agent's config, by node id.

``config: {responses: {route: {selected_edge: create}, draft: [{title: A}, {title: B}]}}``. A list is consumed
one item per call and its last item repeats; the item for a call is chosen by the calling task's index among
its siblings (0 for a root task), not by arrival order, so concurrent fan-outs get the same answers at any
timing. An answer that is itself a list must be wrapped in a list. It is never a fallback for a missing
provider: it answers only agents whose ``llm`` says ``scripted/...``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from agent_engine_core.codec import JSONValueError, dumps
from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import LlmReply, LlmRequest, ProviderSetup

__all__ = ["ScriptedProvider"]


class ScriptedProvider:
    """Answers each agent node from ``config.responses[node_id]``."""

    def __init__(self, setup: ProviderSetup) -> None:
        agent = setup.agent
        responses = agent.config.get("responses")
        if not isinstance(responses, Mapping):
            raise ProviderError(
                "the scripted provider needs a 'responses' mapping in the agent's config "
                "(node id -> answer)",
                provider="scripted",
            )
        try:
            self._answers = {node: self._encode(answer) for node, answer in responses.items()}
        except JSONValueError as exc:
            raise ProviderError(f"scripted responses must be JSON: {exc}",
                                provider="scripted") from None
        self._model = setup.model

    @staticmethod
    def _encode(answer: Any) -> tuple[str, ...]:
        items = answer if isinstance(answer, list) and answer else [answer]
        return tuple(dumps(item) for item in items)

    def check(self, node_ids: Sequence[str]) -> list[str]:
        """Agent nodes this script has no answer for."""
        return [f"the scripted agent has no response for node '{n}'" for n in node_ids if n not in self._answers]

    async def complete(self, request: LlmRequest) -> LlmReply:
        """The scripted answer for the request's node and sibling index."""
        answers = self._answers.get(request.node_id)
        if answers is None:
            raise ProviderError(f"the scripted agent has no response for node '{request.node_id}'",
                                provider="scripted")
        content = answers[min(request.sibling_index, len(answers) - 1)]
        return LlmReply(
            content=content,
            model=self._model,
            usage=MappingProxyType({"input_tokens": 0, "output_tokens": 0}),
            finish_reason="stop",
            response_id=f"scripted:{request.task_id.partition('/')[2]}:{request.node_id}",
        )
