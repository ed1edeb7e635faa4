"""User phrasings for training data: query templates with slots, chain clauses, chit-chat.

Written for this project and deliberately unlike the eval's wording: the eval measures whether
a model routes *unseen* phrasings, so training must teach the vocabulary of each tool (route
patterns, render tree, Inject[]) in many sentence shapes, never the eval's sentences. Slots:
{path} {symbol} {query} {old} {new} {import_stmt} {what} {count} {command} {content}, and in
chain clauses {tests} (a test path) and {out} (a file to write) besides the chain's {path}.
A key ``tool:variant`` marks templates whose arguments differ (``git_diff:staged``).
"""

from __future__ import annotations

import random
import string

SINGLE: dict[str, tuple[str, ...]] = {
    "read_file": (
        "Print the source of {path}.", "What's inside {path}? Dump the whole file.",
        "Open {path} and let me see it.", "I need to look at {path}; can you display it?",
        "cat {path}", "Let me read through {path}.", "Can you pull up the text of {path}?",
        "Display the file {path} in full.", "What does {path} say? Give me the raw text.",
    ),
    "write_file": (
        "Save '{content}' into {path}.", "Create {path} containing the line '{content}'.",
        "Put the note '{content}' in a new file at {path}.", "Overwrite {path} with: {content}",
        "Record '{content}' to the file {path}, please.", "Store this text in {path}: {content}",
        "Make a file {path} that just says '{content}'.",
        "Dump the message '{content}' into {path}.",
    ),
    "run_command": (
        "Execute `{command}` in the shell and give me the output.", "What does `{command}` print?",
        "Please run {command} for me.", "Shell out: {command}",
        "Can you run the command '{command}' and report back?",
        "Try `{command}` and tell me what comes back.", "Use the terminal to run {command}.",
        "I want the output of `{command}`.",
    ),
    "typecheck": (
        "Are there any type errors in {path}?", "Type-check {path} for me.",
        "Run mypy over {path} and list the problems.", "Does {path} pass static type checking?",
        "Look for typing mistakes in {path}.", "Any mypy complaints about {path}?",
        "Please verify that the annotations in {path} are consistent.",
        "Do a strict type check of {path}.",
    ),
    "ruff_check": (
        "Lint {path}.", "Does {path} have any ruff warnings?",
        "Run the linter on {path} and list what it flags.", "Any style or lint issues in {path}?",
        "Use ruff to inspect {path}.", "Which lint errors does ruff report for {path}?",
        "Is {path} clean according to ruff?",
        "Scan {path} for unused imports and other lint problems.",
    ),
    "pytest_run": (
        "Execute the tests in {path}.", "Do the tests under {path} pass?",
        "Run pytest on {path} and give me the pass/fail counts.", "Kick off the tests in {path}.",
        "Are any tests failing in {path}?", "Please run {path} with pytest.",
        "How many tests in {path} succeed?", "Check that {path} still passes.",
    ),
    "goto_definition": (
        "Where is {symbol} defined?", "Jump to the definition of {symbol}.",
        "Go to where {symbol} is declared; it's used in {path}.", "Which file defines {symbol}?",
        "Locate the declaration of {symbol}.",
        "Take me to the source of {symbol} (referenced in {path}).",
        "Where does {symbol} come from?", "Show me where {symbol} is implemented.",
    ),
    "find_references": (
        "Where is {symbol} used?", "List every usage of {symbol}.", "Who calls {symbol}?",
        "Show all places that reference {symbol}.",
        "Collect the references to {symbol}, starting from {path}.",
        "Which modules use {symbol}?", "How many places refer to {symbol}?",
        "Track down all uses of {symbol} in the project.",
    ),
    "hover": (
        "What is the type of {symbol}?", "Hover over {symbol} and show me what it says.",
        "Give me the signature and docs of {symbol}.", "What does the docstring of {symbol} say?",
        "Show the hover info for {symbol} in {path}.",
        "Describe {symbol}: its type and documentation.", "What kind of object is {symbol}?",
        "Quick info on {symbol}, please.",
    ),
    "document_symbols": (
        "Outline {path}.", "What classes and functions does {path} define?",
        "Give me the symbol list of {path}.", "Which definitions live in {path}?",
        "Summarise the structure of {path}.", "Show the document symbols for {path}.",
        "What is declared at the top level of {path}?", "Enumerate the functions in {path}.",
    ),
    "workspace_symbols": (
        "Is there a symbol called {query} anywhere?", "Look up {query} across the workspace.",
        "Search all files for symbols matching {query}.",
        "Which symbols have {query} in their name?", "Find any class or function named {query}.",
        "Does the project define something called {query}?",
        "Query the workspace symbol index for {query}.",
        "Where in the project is there a symbol like {query}?",
    ),
    "git_status": (
        "What's the state of the working tree?", "Are there uncommitted files?",
        "Show me git status.", "Which files did I change in {path}?",
        "Anything modified or untracked in {path}?", "Is my working copy clean?",
        "Give me the repository status.", "What has changed since the last commit, file by file?",
    ),
    "git_diff": (
        "What did I change? Show the diff.", "Show the unstaged changes in {path}.",
        "Print the working-tree diff.", "What are the pending edits in {path}?",
        "Let me review my local modifications as a diff.", "Diff {path} against the last commit.",
    ),
    "git_diff:staged": (
        "Show what is staged for the next commit.", "What's in the index? Show the staged diff.",
        "Review the staged changes in {path}.", "Diff the staged files before I commit.",
    ),
    "git_log": (
        "What has been committed lately?", "Show the recent history of {path}.",
        "Who has been committing recently?", "Give me the git log.",
    ),
    "git_log:count": (
        "Show the last {count} commits.", "What were the {count} latest commits?",
        "Give me the commit history, {count} entries.", "Print the git log, limited to {count}.",
        "Show the newest {count} entries of the log for {path}.",
        "I'd like to see {count} commits of history.",
    ),
    "cst_find_pattern": (
        "Locate every {what} in {path}.", "Which {what} appear in {path}?",
        "Search {path} for {what}.", "Show me the {what} of {path}.",
        "Where are the {what} in {path}?", "Match {what} in {path} using the syntax tree.",
        "Scan the CST of {path} for {what}.", "Give me the positions of all {what} in {path}.",
    ),
    "cst_rename": (
        "Change the name {old} to {new} throughout {path}.",
        "In {path}, rename the symbol {old} as {new}.", "Refactor {path}: {old} becomes {new}.",
        "Replace the identifier {old} with {new} in {path}.",
        "{old} should be called {new}; update {path}.",
        "Please rename {old} -> {new} inside {path}.", "Give {old} the new name {new} in {path}.",
        "Rename {old} in {path}; the new name is {new}.",
    ),
    "cst_add_import": (
        "Insert `{import_stmt}` at the top of {path}.", "{path} needs `{import_stmt}`; add it.",
        "Make sure {path} has the import `{import_stmt}`.",
        "Add the import line {import_stmt} into {path}.",
        "Put `{import_stmt}` among the imports of {path}.",
        "Import what's needed in {path}: {import_stmt}",
        "Could you add an import of the form '{import_stmt}' to {path}?",
        "Include `{import_stmt}` in the imports of {path}.",
    ),
    "validate_component": (
        "Is {path} a well-formed tdom component?", "Validate the tdom component in {path}.",
        "Check that the component in {path} follows tdom rules.",
        "Does {path} define a proper tdom component with __call__ returning a Node?",
        "Run the tdom component validator on {path}.",
        "Make sure {path} is a correct tdom view component.", "Is the component in {path} valid?",
        "Review {path} against the tdom component conventions.",
    ),
    "check_render_tree": (
        "How do the components in {path} compose? Check the render tree.",
        "Inspect the render tree of {path}.", "Is the component tree in {path} put together right?",
        "Check component nesting in {path}.", "Validate how {path} composes its child components.",
        "Does the render tree of {path} hold up?", "Analyse the render tree built by {path}.",
        "Check the tdom composition in {path}.",
    ),
    "validate_escape_context": (
        "Does {path} pass f-strings to html() anywhere?",
        "Make sure html() in {path} only receives t-strings.",
        "Check the escape context of the html() calls in {path}.",
        "Are there unsafe f-strings in the templates of {path}?",
        "Verify {path} uses t-strings, never f-strings, for html().",
        "Audit {path} for f-string HTML that bypasses escaping.",
        "Is the HTML in {path} escaped properly, t-strings only?",
        "Scan {path} for f-strings inside html() calls.",
    ),
    "validate_service_registration": (
        "Is the service in {path} registered correctly?",
        "Validate how {path} registers its services.", "Check the svcs registration of {path}.",
        "Are the @injectable services in {path} set up right?",
        "Review service registration in {path} for DI mistakes.",
        "Does {path} register its services with the container properly?",
        "Inspect the DI registrations in {path}.",
        "Look at {path}: are its services registered the right way?",
    ),
    "check_dependency_graph": (
        "Are there dependency cycles in {path}?",
        "Check {path} for layer violations between services.",
        "Analyse the service dependency graph of {path}.",
        "Does {path} depend on anything it shouldn't?",
        "Look for circular service dependencies in {path}.",
        "Validate the dependency layering of {path}.",
        "Inspect which services {path} depends on and flag violations.",
        "Is the dependency graph of {path} acyclic?",
    ),
    "validate_injection_site": (
        "Are the Inject[] fields in {path} correct?", "Check the injection sites of {path}.",
        "Do all Inject[...] types in {path} have their imports?",
        "Validate the Inject[] annotations in {path}.",
        "Is every injected dependency in {path} imported?", "Review the Inject[] usage in {path}.",
        "Find Inject[] fields in {path} whose types lack an import.",
        "Inspect the dependency injection sites declared in {path}.",
    ),
    "validate_middleware_chain": (
        "Check the middleware in {path}.", "Is the @middleware in {path} written correctly?",
        "Validate the middleware chain of {path}.",
        "Does the middleware class in {path} have the right __call__ signature?",
        "Review {path} against the middleware rules.",
        "Are there problems with the middleware defined in {path}?",
        "Audit the @middleware decorators in {path}.",
        "Is the middleware chain in {path} wired up properly?",
    ),
    "check_di_template_binding": (
        "Do the html() calls in {path} pass context=?",
        "Check template binding for injectable components in {path}.",
        "Is context= given to html() wherever {path} renders DI components?",
        "Validate the DI template binding in {path}.",
        "Make sure {path} passes the container context to html().",
        "Are injectable components in {path} rendered with context=?",
        "Look for html() calls missing context= in {path}.",
        "Review how {path} binds DI context in its templates.",
    ),
    "validate_route_pattern": (
        "Are the route patterns in {path} valid?", "Check the URL routes declared in {path}.",
        "Validate the path patterns of the routes in {path}.",
        "Do the @route paths in {path} have correct syntax?",
        "Inspect the routing table in {path} for malformed patterns.",
        "Review the route definitions in {path}.", "Are any routes in {path} badly formed?",
        "Look at {path}: are its route parameters written correctly?",
    ),
}  # fmt: skip

#: Clauses about "the file" for chains and follow-ups (the chain supplies {path}).
CLAUSE: dict[str, tuple[str, ...]] = {
    "read_file": ("show me its source", "print the file"),
    "write_file": ("write '{content}' to {out}", "save the note '{content}' as {out}"),
    "run_command": ("run `{command}`", "execute {command} in the shell"),
    "typecheck": ("type-check it", "run mypy on it"),
    "ruff_check": ("lint it with ruff", "check it for lint errors"),
    "pytest_run": ("run the tests in {tests}", "run pytest on {tests}"),
    "goto_definition": ("jump to where {symbol} is defined", "locate the definition of {symbol}"),
    "find_references": ("list the usages of {symbol}", "show who references {symbol}"),
    "hover": ("show the type of {symbol}", "give me the docs of {symbol}"),
    "document_symbols": ("outline it", "list the symbols it declares"),
    "workspace_symbols": ("search the workspace for {query}", "look up the symbol {query}"),
    "git_status": ("show its git status", "tell me whether it has uncommitted changes"),
    "git_diff": ("show its unstaged diff", "diff it against the last commit"),
    "git_log": ("show the last {count} commits touching it", "list {count} commits of its log"),
    "cst_find_pattern": ("find the {what} in it", "locate its {what}"),
    "cst_rename": ("rename {old} to {new} in it", "change {old} into {new} there"),
    "cst_add_import": ("add `{import_stmt}` to it", "insert the import {import_stmt}"),
    "validate_component": ("validate it as a tdom component", "check its tdom component"),
    "check_render_tree": ("check its render tree", "inspect how its components compose"),
    "validate_escape_context": ("make sure html() gets t-strings", "audit it for f-string HTML"),
    "validate_service_registration": ("check its service registration", "review its svcs setup"),
    "check_dependency_graph": ("look for dependency cycles", "check its dependency layering"),
    "validate_injection_site": ("verify its Inject[] imports", "check its injection sites"),
    "validate_middleware_chain": ("check its middleware", "validate the @middleware usage"),
    "check_di_template_binding": ("check that html() gets context=", "verify its DI binding"),
    "validate_route_pattern": ("validate its route patterns", "check its URL patterns"),
}  # fmt: skip

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
