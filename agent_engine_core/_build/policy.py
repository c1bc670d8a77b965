"""policy.yaml: allow/deny rules on tools, context profiles, nodes and memory layers, decided per node at build.

A rule applies to a node when its ``target``/``target_id`` is something the node uses (the node itself, a tool
it lists, its context profile, the memory layer it writes with ``memory_write``) and ``nodes`` is absent or
names it; ``ctx.memory`` writes are checked against ``memory`` rules for the layer written. Rules are read in
file order (policies in order, rules in order); the first rule that applies to a
subject decides it, and a subject no rule names is allowed. A node with a denied subject fails every stage
before anything runs, with kind ``policy`` and the rule in the error; routing is never changed by a policy.
Nothing in a rule depends on the stage's input, so the decision is made once, when the engine is built.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent_engine_core.codec import dumps
from agent_engine_core.errors import ManifestIssue
from agent_engine_core.manifests._hints import did_you_mean
from agent_engine_core.records import ErrorKind, StageError

if TYPE_CHECKING:
    from agent_engine_core.manifests.loader import Project, Source
    from agent_engine_core.manifests.models import NodeSpec, PolicyRule

__all__ = ["Denials", "policy_denials"]


def policy_denials(
    project: Project, nodes: list[NodeSpec], known: Mapping[str, Collection[str]], issues: list[ManifestIssue]
) -> Denials:
    """The denial of each denied node, and the memory layers each node may not write.

    Rules naming what does not exist are located issues.

    ``known`` maps each target (tool, context, node, memory) to the ids it can name.
    """
    source = project.source("policy")
    # each subject's rules in file order: a node's subjects find theirs by lookup, not by a scan of every rule
    rules: dict[tuple[str, str], list[tuple[str, int, PolicyRule]]] = {}
    for p, policy in enumerate(project.policy.policies):
        for r, rule in enumerate(policy.rules):
            where: list[str | int] = ["policies", p, "rules", r]
            _check(rule.target_id, known[rule.target], f"{rule.target} '{rule.target_id}'", [*where, "target_id"],
                   source, issues)
            for n, node in enumerate(rule.nodes or ()):
                _check(node, known["node"], f"node '{node}'", [*where, "nodes", n], source, issues)
            rules.setdefault((rule.target, rule.target_id), []).append((policy.name, r, rule))
    if not rules:  # nothing is denied: skip the walk over every node's subjects
        return Denials({}, {})

    def decide(node_id: str, target: str, target_id: str) -> StageError | None:
        candidates = rules.get((target, target_id), ())
        found = next((rule for rule in candidates if rule[2].nodes is None or node_id in rule[2].nodes), None)
        if found is None or found[2].action == "allow":
            return None
        name, index, rule = found
        reason = f": {rule.reason}" if rule.reason else ""
        details = {"policy": name, "rule": index, "target": target, "target_id": target_id, "reason": rule.reason}
        return StageError(node_id, ErrorKind.POLICY, f"policy '{name}' denies {target} '{target_id}'{reason}",
                          dumps(details))

    denials: dict[str, StageError] = {}
    memory: dict[str, dict[str, StageError]] = {}
    for spec in nodes:
        subjects = [("node", spec.id), *(("tool", t) for t in spec.tools)]
        if spec.context != "none":
            subjects.append(("context", spec.context))
        if spec.memory_write is not None:
            subjects.append(("memory", spec.memory_write))
        denial = next(filter(None, (decide(spec.id, target, target_id) for target, target_id in subjects)), None)
        if denial is not None:
            denials[spec.id] = denial
        layers = {layer: decide(spec.id, "memory", layer) for layer in ("project", "global")}
        memory[spec.id] = {layer: error for layer, error in layers.items() if error is not None}
    return Denials(denials, memory)


@dataclass(frozen=True, slots=True)
class Denials:
    """What the policy denies: whole nodes (before they run), and memory layers to ``ctx.memory`` per node."""

    nodes: Mapping[str, StageError]
    memory: Mapping[str, Mapping[str, StageError]]


def _check(
    name: str, known: Collection[str], what: str, path: list[str | int], source: Source, issues: list[ManifestIssue],
) -> None:
    if name not in known:
        issues.append(source.issue(f"the policy names {what}, which the project does not have", path,
                                   code="policy.unknown_reference",
                                   hint=did_you_mean(name, known) or "fix or remove the rule"))
