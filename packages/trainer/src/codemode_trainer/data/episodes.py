"""Conversations for training: single calls, answered calls, chains, follow-ups and chit-chat.

Each episode is one conversation in exactly the chat the eval renders (its system prompt, its
one ``execute_code`` tool), already split so every call turn ends a row (mlx-lm's
``mask_prompt`` trains only the last message). The tool of each new episode is the least used
so far, so the targets stay balanced across the catalog whatever the mix of episode kinds.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from codemode_trainer.chat.templates import CallSyntax
from codemode_trainer.checks.contamination import PromptIndex
from codemode_trainer.data.answers import answer
from codemode_trainer.data.arguments import ArgumentSampler, Request, Step, Var
from codemode_trainer.data.phrasings import (
    CHAIN_FRAMES_2,
    CHAIN_FRAMES_3,
    FOLLOW_UPS,
    LOCATE_FRAMES,
    NO_TOOL,
    decorate,
    slots_of,
)
from codemode_trainer.data.snippets import chain_source, locate_preamble, run_code, step_source
from codemode_trainer.data.tools import LOCATORS, TOOLS
from codemode_trainer.rows import Row, split_multi_turn
from pytest_codemode_eval.catalog import Catalog, annotation_text
from pytest_codemode_eval.dry_run.fake_tools import FakeTools
from pytest_codemode_eval.prompt import offered_tools, render_system_prompt
from pytest_codemode_eval.workspace_facts import WorkspaceFacts


class Rejected(Exception):
    """A drawn user text came too close to an eval prompt; the episode is drawn again."""


class EpisodeMaker:
    """Draws episodes; ``counts`` tracks how often each tool is a trained target."""

    def __init__(
        self,
        catalog: Catalog,
        facts: WorkspaceFacts,
        rng: random.Random,
        call_syntax: CallSyntax,
        avoid: PromptIndex,
        avoid_threshold: float,
        plain_code: bool = False,
    ) -> None:
        self.catalog, self.rng, self.call_syntax = catalog, rng, call_syntax
        self.avoid, self.avoid_threshold = avoid, avoid_threshold
        self.sampler = ArgumentSampler(facts, rng)
        self.table = TOOLS  # read when the maker is made: a tool added to TOOLS is used
        self.stubs = FakeTools(facts, rng).stubs(catalog.tools)
        self.returns = {  # picks the print style of a result; "plain" always prints the call
            name: "plain" if plain_code else annotation_text(spec.signature.return_annotation)
            for name, spec in catalog.tools.items()
        }
        self.system = {"role": "system", "content": render_system_prompt(catalog)}
        self.tools = offered_tools(catalog)
        self.counts: Counter[str] = Counter({name: 0 for name in catalog.tools})
        self.calls = 0

    def least_used(self, among: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> str:
        pool = [t for t in (among or self.catalog.tool_names) if t not in exclude]
        low = min(self.counts[t] for t in pool)
        return self.rng.choice([t for t in pool if self.counts[t] == low])

    def make(self, kind: str) -> list[Row]:
        """One episode of ``kind``; retried when a user text is a near-duplicate of the eval."""
        makers: dict[str, Callable[[], list[Row]]] = {
            "single": lambda: self.single(answered=False),
            "answered": lambda: self.single(True),
            "chain": self.chain,
            "locate": self.locate,
            "follow_up": self.follow_up,
            "no_tool": self.no_tool,
        }
        for _ in range(25):
            before = self.counts.copy()
            try:
                return makers[kind]()
            except Rejected:
                self.counts = before
        raise RuntimeError(f"could not draw a {kind} episode unlike the eval prompts")

    # -- turns -------------------------------------------------------------------------------
    def user(self, text: str) -> dict[str, Any]:
        if self.avoid.matches(text, self.avoid_threshold):
            raise Rejected(text)
        return {"role": "user", "content": text}

    def call(self, code: str, tools: Sequence[str]) -> dict[str, Any]:
        self.calls += 1
        self.counts.update(tools)
        arguments = {self.catalog.code_parameter: code}
        function = {
            "name": self.catalog.wrapper.name,
            "arguments": json.dumps(arguments) if self.call_syntax == "json" else arguments,
        }
        return {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": f"call_{self.calls}", "type": "function", "function": function}],
        }

    def respond(self, code: str) -> list[dict[str, Any]]:
        ran = run_code(code, self.stubs)
        return [
            {"role": "tool", "tool_call_id": f"call_{self.calls}", "content": ran.output},
            {"role": "assistant", "content": answer(ran, lambda tool: self.table[tool].answer)},
        ]

    def rows(self, messages: list[dict[str, Any]]) -> list[Row]:
        return split_multi_turn([{"messages": [self.system, *messages], "tools": self.tools}])

    def step(self, tool: str, variant: str, needs: set[str], path: str | None = None) -> Step:
        """Arguments for one call; ``needs`` are the slots its phrasing uses."""
        entry = self.table[tool]
        request = Request(tool, variant, needs, path, entry.file_parameter, entry.file_hints)
        return entry.arguments(self.sampler, request)

    def hints(self, tools: Sequence[str]) -> list[tuple[str, ...]]:
        return [self.table[tool].file_hints for tool in tools]

    # -- episodes ----------------------------------------------------------------------------
    def _single_turn(self, tool: str) -> tuple[dict[str, Any], str, Step]:
        phrasings = self.table[tool].phrasings()
        variant = self.rng.choice([v for v in phrasings for _ in phrasings[v]])
        template = self.rng.choice(phrasings[variant])
        step = self.step(tool, variant, slots_of(template))
        text = decorate(template.format(**step.slots), self.rng)
        return self.user(text), step_source(step, self.returns[tool], self.rng), step

    def single(self, answered: bool) -> list[Row]:
        tool = self.least_used()
        user, code, _ = self._single_turn(tool)
        messages = [user, self.call(code, [tool])]
        return self.rows(messages + (self.respond(code) if answered else []))

    def _clause(self, tool: str, path: str | None, file_value: Any) -> tuple[str, Step]:
        clause = self.rng.choice(self.table[tool].clauses)
        step = self.step(tool, "", slots_of(clause), path=path)
        parameter = self.table[tool].file_parameter
        if parameter is not None and path is not None:
            step.kwargs[parameter] = file_value
        return clause.format(**{**step.slots, "path": path or ""}), step

    def chain(self) -> list[Row]:
        size = self.rng.choice([2, 2, 3])
        tools = [self.least_used()]
        while len(tools) < size:
            tools.append(self.least_used(exclude=tools))
        path = self.sampler.common_file(self.hints(tools)) or self.rng.choice(
            self.sampler.pool(self.table[tools[0]].file_hints)
        )
        named = self.rng.random() < 0.5
        clauses, steps = zip(
            *(self._clause(t, path, Var("path") if named else path) for t in tools), strict=True
        )
        frame = self.rng.choice(CHAIN_FRAMES_2 if size == 2 else CHAIN_FRAMES_3)
        a, b, *c = clauses
        text = frame.format(path=path, a=a, A=a[:1].upper() + a[1:], b=b, c=c[0] if c else "")
        preamble = f"path = {json.dumps(path)}" if named else ""
        code = chain_source(steps, self.returns, self.rng, preamble)
        messages = [self.user(decorate(text, self.rng)), self.call(code, tools)]
        return self.rows(messages + (self.respond(code) if self.rng.random() < 0.3 else []))

    def locate(self) -> list[Row]:
        frame = self.rng.choice(LOCATE_FRAMES)
        first = self.least_used(LOCATORS)
        allowed = sorted(  # tools a chain can apply to the file the locate step found
            name
            for name, entry in self.table.items()
            if entry.file_parameter and entry.after_locate and name in self.catalog.tools
        )
        follow = [self.least_used(allowed)]
        if "{c}" in frame:
            follow.append(self.least_used(allowed, exclude=follow))
        path = self.sampler.common_file(self.hints(follow), with_symbols=True)
        if path is None:
            path = self.rng.choice(self.sampler.files_with_symbols())
        definition = self.sampler.definition_in(path)
        locate_step = self.sampler.locate_step(first, definition)
        clauses, steps = zip(*(self._clause(t, path, Var("path")) for t in follow), strict=True)
        text = frame.format(symbol=definition.name, b=clauses[0], c=clauses[-1])
        code = chain_source(steps, self.returns, self.rng, locate_preamble(locate_step))
        messages = [self.user(decorate(text, self.rng)), self.call(code, [first, *follow])]
        return self.rows(messages)

    def follow_up(self) -> list[Row]:
        tool = self.least_used()
        user, code, step = self._single_turn(tool)
        first = [user, self.call(code, [tool]), *self.respond(code)]
        path = self.sampler.file_of(step, self.table[tool].file_parameter)
        candidates = [
            name
            for name, entry in self.table.items()
            if name in self.catalog.tools
            and name != tool
            and (path is None) == (entry.file_parameter is None)
        ]
        second = self.least_used(candidates)
        clause, step = self._clause(second, path, path)
        text = self.rng.choice(FOLLOW_UPS).format(a=clause)
        code2 = step_source(step, self.returns[second], self.rng)
        return self.rows([*first, self.user(text), self.call(code2, [second])])

    def no_tool(self) -> list[Row]:
        question, reply = self.rng.choice(NO_TOOL)
        text = decorate(question, self.rng)
        return self.rows([self.user(text), {"role": "assistant", "content": reply}])
