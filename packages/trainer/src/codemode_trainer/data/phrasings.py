"""Phrasings shared by all tools: chain and follow-up frames, openers, closers, chit-chat.

Written for this project and deliberately unlike the eval's wording: the eval measures whether
a model routes *unseen* phrasings, so training must teach the vocabulary of each tool (route
patterns, render tree, Inject[]) in many sentence shapes, never the eval's sentences. Each tool's
own phrasings and clauses are its entry in ``data/tools.py``.
"""

from __future__ import annotations

import random
import string

#: Chains over one file: {path} then two or three clauses.
CHAIN_FRAMES_2 = (
    "For {path}: {a}, then {b}.", "In {path}, {a} and {b}.", "Take {path}, {a}, and {b}.",
    "Work on {path}: first {a}; after that {b}.", "{A} for {path} and then {b}.",
)  # fmt: skip
CHAIN_FRAMES_3 = (
    "For {path}: {a}, {b}, and finally {c}.", "Take {path}: {a}, then {b}, then {c}.",
    "Three things on {path}: {a}; {b}; {c}.", "In {path}, {a}, {b} and {c}.",
)  # fmt: skip
#: Chains that first find a symbol's file, then act on it ("it" is that file).
LOCATE_FRAMES = (
    "Locate {symbol}, then {b}.", "Find out where {symbol} lives, {b} and {c}.",
    "Look up {symbol}; once you have its file, {b}.", "Go to {symbol}'s file, {b}, then {c}.",
)  # fmt: skip
FOLLOW_UPS = (
    "Now {a}.", "Great. Next, {a}.", "OK, and can you {a}?", "Thanks. Also {a}, please.",
    "Good. Then {a}.",
)  # fmt: skip
OPENERS = ("", "", "", "", "Hey, ", "Quick one: ", "Hi! ", "Task: ", "When you can: ")
CLOSERS = ("", "", "", "", " Thanks.", " Thanks!", " Keep it brief.")

#: Requests that need no tool: the system prompt says to answer those in plain text.
NO_TOOL: tuple[tuple[str, str], ...] = (
    ("What is Code Mode?", "Instead of one tool call per step, I write a short Python snippet "
     "that calls the tools and prints what you need; it runs once and I read its output."),
    ("Thanks, that's all for now.", "You're welcome! Ask any time."),
    ("Hello!", "Hi! What would you like to do in the project?"),
    ("What's the difference between a t-string and an f-string?", "An f-string is evaluated "
     "to a plain str at once; a t-string (Python 3.14) gives a Template whose interpolations "
     "stay separate, so a library like tdom can escape them."),
    ("Why does tdom want t-strings in html()?", "Because a t-string keeps the interpolated "
     "values apart from the markup, so tdom can escape them; an f-string would already be one "
     "string with the values pasted in."),
    ("What does Inject[] mean in svcs-di?", "It marks a dataclass field as a dependency: the "
     "container resolves and passes that service when it builds the object."),
    ("Explain a LoRA adapter in one sentence.", "A LoRA adapter trains two small low-rank "
     "matrices beside each frozen weight matrix, so fine-tuning touches few parameters."),
    ("Which Python version introduced t-strings?", "Python 3.14, through PEP 750."),
    ("What's a render tree?", "The nesting of components that produces a page: each "
     "component renders its children until only HTML nodes are left."),
    ("What is a circuit breaker middleware for?", "It stops calling a failing backend for a "
     "while after repeated errors, so one broken service does not slow every request."),
    ("How should I name pytest files?", "Name them test_*.py (or *_test.py) and the test "
     "functions test_*, so pytest collects them."),
    ("git diff versus git diff --staged: what's the difference?", "Plain git diff shows "
     "changes not yet staged; --staged shows what is in the index for the next commit."),
    ("Good job, thank you!", "Glad it helped!"),
    ("What can you do?", "I can read and write files, run commands, type-check, lint and "
     "test, navigate symbols, inspect git, refactor with libcst and run the tdom and svcs "
     "checkers, all from one Python snippet."),
    ("Should I use pathlib or os.path?", "Prefer pathlib: Path objects compose with / and "
     "carry methods like read_text; os.path is the older string-based API."),
)  # fmt: skip


def slots_of(template: str) -> set[str]:
    """The slot names a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def decorate(text: str, rng: random.Random) -> str:
    """Vary the surface a little: an opener, a closer, sometimes no full stop."""
    opener, closer = rng.choice(OPENERS), rng.choice(CLOSERS)
    if opener.endswith(", ") and text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    if not closer and rng.random() < 0.15 and text.endswith("."):
        text = text[:-1]
    return opener + text + closer
