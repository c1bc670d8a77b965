"""policy.yaml: allow/deny rules on tools, context profiles, nodes and memory layers, decided per node at build.

A rule applies to a node when its ``target``/``target_id`` is something the node uses (the node itself, a tool
it lists, its context profile, the memory layer it writes with ``memory_write``) and ``nodes`` is absent or
names it. Rules are read in file order (policies in order, rules in order); the first rule that applies to a
subject decides it, and a subject no rule names is allowed. A node with a denied subject fails every stage
before anything runs, with kind ``policy`` and the rule in the error; routing is never changed by a policy.
Nothing in a rule depends on the stage's input, so the decision is made once, when the engine is built.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping

from agent_engine_core._json import dumps
from agent_engine_core.errors import ManifestIssue
from agent_engine_core.manifests.loader import Project
from agent_engine_core.manifests.models import NodeSpec, PolicyRule
from agent_engine_core.records import ErrorKind, StageError

__all__ = ["policy_denials"]


def policy_denials(
    project: Project, nodes: list[NodeSpec], known: Mapping[str, Collection[str]], issues: list[ManifestIssue]
) -> dict[str, StageError]:
    """The denial of each denied node; rules naming what does not exist are located issues.

    ``known`` maps each target (tool, context, node, memory) to the ids it can name.
    """
    source = project.source("policy")
    rules: list[tuple[str, int, PolicyRule]] = []
    for p, policy in enumerate(project.policy.policies):
        for r, rule in enumerate(policy.rules):
            where: list[str | int] = ["policies", p, "rules", r]
            _check(rule.target_id, known[rule.target], f"{rule.target} '{rule.target_id}'", [*where, "target_id"],
                   source.file, source.locate, issues)
            for n, node in enumerate(rule.nodes or ()):
                _check(node, known["node"], f"node '{node}'", [*where, "nodes", n], source.file, source.locate,
                       issues)
            rules.append((policy.name, r, rule))
    denials = {}
    for spec in nodes:
        subjects = [("node", spec.id), *(("tool", t) for t in spec.tools)]
        if spec.context != "none":
            subjects.append(("context", spec.context))
        if spec.memory_write is not None:
            subjects.append(("memory", spec.memory_write))
        for target, target_id in subjects:
            decided = next((found for found in rules if _applies(found[2], target, target_id, spec.id)), None)
            if decided is not None and decided[2].action == "deny":
                name, index, rule = decided
                reason = f": {rule.reason}" if rule.reason else ""
                details = {"policy": name, "rule": index, "target": target, "target_id": target_id,
                           "reason": rule.reason}
                denials[spec.id] = StageError(spec.id, ErrorKind.POLICY,
                                              f"policy '{name}' denies {target} '{target_id}'{reason}", dumps(details))
                break
    return denials


def _applies(rule: PolicyRule, target: str, target_id: str, node_id: str) -> bool:
    return rule.target == target and rule.target_id == target_id and (rule.nodes is None or node_id in rule.nodes)


def _check(
    name: str, known: Collection[str], what: str, path: list[str | int], file: str,
    locate: Callable[[list[str | int]], tuple[int | None, int | None]], issues: list[ManifestIssue],
) -> None:
    if name in known:
        return
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    line, column = locate(path)
    issues.append(ManifestIssue(f"the policy names {what}, which the project does not have", file=file, line=line,
                                column=column, code="policy.unknown_reference",
                                hint=f"did you mean '{close[0]}'?" if close else "fix or remove the rule"))
