"""Everything the data builder knows about each catalog tool, one entry per tool.

An entry holds how users ask for the tool (``asks``, with ``{slot}`` placeholders, and
``variants`` whose arguments differ, such as ``git_diff``'s ``staged``), the clauses that name it
inside a chain or a follow-up, which parameter takes "the file" and which files suit it, how its
arguments are drawn (a builder in ``arguments.py``; the default fills the file parameter) and how
its result is summed up (an answer in ``answers.py``; the default is generic). Adding a tool to
the catalog means adding its entry here and nothing else; ``data build`` refuses a catalog tool
without one. The file is long because it is data: the phrasings are most of it.

Phrasings are written for this project and deliberately unlike the eval's wording (see
``phrasings.py``). Slots: {path} {symbol} {query} {old} {new} {import_stmt} {what} {count}
{command} {content}, and in clauses {tests} (a test path) and {out} (a file to write) besides
the chain's {path}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from codemode_trainer.data import answers, arguments
from codemode_trainer.data.answers import Answer
from codemode_trainer.data.arguments import Builder


@dataclass(frozen=True)
class ToolData:
    """One tool's entry; see the module docstring."""

    asks: tuple[str, ...]
    clauses: tuple[str, ...]
    variants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    file_parameter: str | None = None
    file_hints: tuple[str, ...] = ()
    after_locate: bool = True  # with a file parameter: a locate chain may apply it to the file
    arguments: Builder = arguments.file_arguments
    answer: Answer | None = None

    def __post_init__(self) -> None:
        if not self.asks or not self.clauses:
            raise ValueError("a tool needs at least one phrasing in asks and one in clauses")
        if self.arguments is arguments.file_arguments and self.file_parameter is None:
            raise ValueError("a tool with the default arguments builder needs a file_parameter")

    def phrasings(self) -> dict[str, tuple[str, ...]]:
        """Phrasings by variant ("" for the plain call), plain ones first."""
        return {"": self.asks, **self.variants}


#: Tools that find a symbol's file at the start of a locate chain.
LOCATORS = ("goto_definition", "workspace_symbols")

# fmt: off
TOOLS: dict[str, ToolData] = {
    "read_file": ToolData(
        asks=(
            "Print the source of {path}.", "What's inside {path}? Dump the whole file.",
            "Open {path} and let me see it.", "I need to look at {path}; can you display it?",
            "cat {path}", "Let me read through {path}.", "Can you pull up the text of {path}?",
            "Display the file {path} in full.", "What does {path} say? Give me the raw text.",
        ),
        clauses=("show me its source", "print the file"),
        file_parameter="path",
        arguments=arguments.any_text_file,
        answer=answers.read_file,
    ),
    "write_file": ToolData(
        asks=(
            "Save '{content}' into {path}.", "Create {path} containing the line '{content}'.",
            "Put the note '{content}' in a new file at {path}.", "Overwrite {path} with: {content}",
            "Record '{content}' to the file {path}, please.",
            "Store this text in {path}: {content}",
            "Make a file {path} that just says '{content}'.",
            "Dump the message '{content}' into {path}.",
        ),
        clauses=("write '{content}' to {out}", "save the note '{content}' as {out}"),
        arguments=arguments.write_file,
    ),
    "run_command": ToolData(
        asks=(
            "Execute `{command}` in the shell and give me the output.",
            "What does `{command}` print?", "Please run {command} for me.", "Shell out: {command}",
            "Can you run the command '{command}' and report back?",
            "Try `{command}` and tell me what comes back.", "Use the terminal to run {command}.",
            "I want the output of `{command}`.",
        ),
        clauses=("run `{command}`", "execute {command} in the shell"),
        arguments=arguments.run_command,
        answer=answers.run_command,
    ),
    "typecheck": ToolData(
        asks=(
            "Are there any type errors in {path}?", "Type-check {path} for me.",
            "Run mypy over {path} and list the problems.", "Does {path} pass static type checking?",
            "Look for typing mistakes in {path}.", "Any mypy complaints about {path}?",
            "Please verify that the annotations in {path} are consistent.",
            "Do a strict type check of {path}.",
        ),
        clauses=("type-check it", "run mypy on it"),
        file_parameter="path",
        arguments=arguments.file_or_folder,
        answer=answers.diagnostics,
    ),
    "ruff_check": ToolData(
        asks=(
            "Lint {path}.", "Does {path} have any ruff warnings?",
            "Run the linter on {path} and list what it flags.",
            "Any style or lint issues in {path}?", "Use ruff to inspect {path}.",
            "Which lint errors does ruff report for {path}?", "Is {path} clean according to ruff?",
            "Scan {path} for unused imports and other lint problems.",
        ),
        clauses=("lint it with ruff", "check it for lint errors"),
        file_parameter="path",
        arguments=arguments.file_or_folder,
        answer=answers.diagnostics,
    ),
    "pytest_run": ToolData(
        asks=(
            "Execute the tests in {path}.", "Do the tests under {path} pass?",
            "Run pytest on {path} and give me the pass/fail counts.",
            "Kick off the tests in {path}.", "Are any tests failing in {path}?",
            "Please run {path} with pytest.", "How many tests in {path} succeed?",
            "Check that {path} still passes.",
        ),
        clauses=("run the tests in {tests}", "run pytest on {tests}"),
        arguments=arguments.pytest_run,
    ),
    "goto_definition": ToolData(
        asks=(
            "Where is {symbol} defined?", "Jump to the definition of {symbol}.",
            "Go to where {symbol} is declared; it's used in {path}.",
            "Which file defines {symbol}?", "Locate the declaration of {symbol}.",
            "Take me to the source of {symbol} (referenced in {path}).",
            "Where does {symbol} come from?", "Show me where {symbol} is implemented.",
        ),
        clauses=("jump to where {symbol} is defined", "locate the definition of {symbol}"),
        file_parameter="file_path",
        after_locate=False,
        arguments=arguments.symbol_site,
        answer=answers.goto_definition,
    ),
    "find_references": ToolData(
        asks=(
            "Where is {symbol} used?", "List every usage of {symbol}.", "Who calls {symbol}?",
            "Show all places that reference {symbol}.",
            "Collect the references to {symbol}, starting from {path}.",
            "Which modules use {symbol}?", "How many places refer to {symbol}?",
            "Track down all uses of {symbol} in the project.",
        ),
        clauses=("list the usages of {symbol}", "show who references {symbol}"),
        file_parameter="file_path",
        after_locate=False,
        arguments=arguments.symbol_site,
        answer=answers.find_references,
    ),
    "hover": ToolData(
        asks=(
            "What is the type of {symbol}?", "Hover over {symbol} and show me what it says.",
            "Give me the signature and docs of {symbol}.",
            "What does the docstring of {symbol} say?",
            "Show the hover info for {symbol} in {path}.",
            "Describe {symbol}: its type and documentation.", "What kind of object is {symbol}?",
            "Quick info on {symbol}, please.",
        ),
        clauses=("show the type of {symbol}", "give me the docs of {symbol}"),
        file_parameter="file_path",
        after_locate=False,
        arguments=arguments.symbol_site,
        answer=answers.hover,
    ),
    "document_symbols": ToolData(
        asks=(
            "Outline {path}.", "What classes and functions does {path} define?",
            "Give me the symbol list of {path}.", "Which definitions live in {path}?",
            "Summarise the structure of {path}.", "Show the document symbols for {path}.",
            "What is declared at the top level of {path}?", "Enumerate the functions in {path}.",
        ),
        clauses=("outline it", "list the symbols it declares"),
        file_parameter="file_path",
        answer=answers.symbols,
    ),
    "workspace_symbols": ToolData(
        asks=(
            "Is there a symbol called {query} anywhere?", "Look up {query} across the workspace.",
            "Search all files for symbols matching {query}.",
            "Which symbols have {query} in their name?",
            "Find any class or function named {query}.",
            "Does the project define something called {query}?",
            "Query the workspace symbol index for {query}.",
            "Where in the project is there a symbol like {query}?",
        ),
        clauses=("search the workspace for {query}", "look up the symbol {query}"),
        arguments=arguments.workspace_symbols,
        answer=answers.symbols,
    ),
    "git_status": ToolData(
        asks=(
            "What's the state of the working tree?", "Are there uncommitted files?",
            "Show me git status.", "Which files did I change in {path}?",
            "Anything modified or untracked in {path}?", "Is my working copy clean?",
            "Give me the repository status.",
            "What has changed since the last commit, file by file?",
        ),
        clauses=("show its git status", "tell me whether it has uncommitted changes"),
        file_parameter="path",
        after_locate=False,
        arguments=arguments.git,
        answer=answers.git_status,
    ),
    "git_diff": ToolData(
        asks=(
            "What did I change? Show the diff.", "Show the unstaged changes in {path}.",
            "Print the working-tree diff.", "What are the pending edits in {path}?",
            "Let me review my local modifications as a diff.",
            "Diff {path} against the last commit.",
        ),
        variants={
            "staged": (
                "Show what is staged for the next commit.",
                "What's in the index? Show the staged diff.",
                "Review the staged changes in {path}.", "Diff the staged files before I commit.",
            ),
        },
        clauses=("show its unstaged diff", "diff it against the last commit"),
        file_parameter="path",
        after_locate=False,
        arguments=arguments.git,
        answer=answers.git_diff,
    ),
    "git_log": ToolData(
        asks=(
            "What has been committed lately?", "Show the recent history of {path}.",
            "Who has been committing recently?", "Give me the git log.",
        ),
        variants={
            "count": (
                "Show the last {count} commits.", "What were the {count} latest commits?",
                "Give me the commit history, {count} entries.",
                "Print the git log, limited to {count}.",
                "Show the newest {count} entries of the log for {path}.",
                "I'd like to see {count} commits of history.",
            ),
        },
        clauses=("show the last {count} commits touching it", "list {count} commits of its log"),
        file_parameter="path",
        after_locate=False,
        arguments=arguments.git,
        answer=answers.git_log,
    ),
    "cst_find_pattern": ToolData(
        asks=(
            "Locate every {what} in {path}.", "Which {what} appear in {path}?",
            "Search {path} for {what}.", "Show me the {what} of {path}.",
            "Where are the {what} in {path}?", "Match {what} in {path} using the syntax tree.",
            "Scan the CST of {path} for {what}.", "Give me the positions of all {what} in {path}.",
        ),
        clauses=("find the {what} in it", "locate its {what}"),
        file_parameter="file_path",
        arguments=arguments.cst_find_pattern,
        answer=answers.cst_find_pattern,
    ),
    "cst_rename": ToolData(
        asks=(
            "Change the name {old} to {new} throughout {path}.",
            "In {path}, rename the symbol {old} as {new}.", "Refactor {path}: {old} becomes {new}.",
            "Replace the identifier {old} with {new} in {path}.",
            "{old} should be called {new}; update {path}.",
            "Please rename {old} -> {new} inside {path}.",
            "Give {old} the new name {new} in {path}.",
            "Rename {old} in {path}; the new name is {new}.",
        ),
        clauses=("rename {old} to {new} in it", "change {old} into {new} there"),
        file_parameter="file_path",
        after_locate=False,
        arguments=arguments.cst_rename,
    ),
    "cst_add_import": ToolData(
        asks=(
            "Insert `{import_stmt}` at the top of {path}.", "{path} needs `{import_stmt}`; add it.",
            "Make sure {path} has the import `{import_stmt}`.",
            "Add the import line {import_stmt} into {path}.",
            "Put `{import_stmt}` among the imports of {path}.",
            "Import what's needed in {path}: {import_stmt}",
            "Could you add an import of the form '{import_stmt}' to {path}?",
            "Include `{import_stmt}` in the imports of {path}.",
        ),
        clauses=("add `{import_stmt}` to it", "insert the import {import_stmt}"),
        file_parameter="file_path",
        arguments=arguments.cst_add_import,
    ),
    "validate_component": ToolData(
        asks=(
            "Is {path} a well-formed tdom component?", "Validate the tdom component in {path}.",
            "Check that the component in {path} follows tdom rules.",
            "Does {path} define a proper tdom component with __call__ returning a Node?",
            "Run the tdom component validator on {path}.",
            "Make sure {path} is a correct tdom view component.",
            "Is the component in {path} valid?",
            "Review {path} against the tdom component conventions.",
        ),
        clauses=("validate it as a tdom component", "check its tdom component"),
        file_parameter="file_path",
        file_hints=("html(",),
    ),
    "check_render_tree": ToolData(
        asks=(
            "How do the components in {path} compose? Check the render tree.",
            "Inspect the render tree of {path}.",
            "Is the component tree in {path} put together right?",
            "Check component nesting in {path}.",
            "Validate how {path} composes its child components.",
            "Does the render tree of {path} hold up?", "Analyse the render tree built by {path}.",
            "Check the tdom composition in {path}.",
        ),
        clauses=("check its render tree", "inspect how its components compose"),
        file_parameter="file_path",
        file_hints=("html(",),
    ),
    "validate_escape_context": ToolData(
        asks=(
            "Does {path} pass f-strings to html() anywhere?",
            "Make sure html() in {path} only receives t-strings.",
            "Check the escape context of the html() calls in {path}.",
            "Are there unsafe f-strings in the templates of {path}?",
            "Verify {path} uses t-strings, never f-strings, for html().",
            "Audit {path} for f-string HTML that bypasses escaping.",
            "Is the HTML in {path} escaped properly, t-strings only?",
            "Scan {path} for f-strings inside html() calls.",
        ),
        clauses=("make sure html() gets t-strings", "audit it for f-string HTML"),
        file_parameter="file_path",
        file_hints=("html(",),
    ),
    "validate_service_registration": ToolData(
        asks=(
            "Is the service in {path} registered correctly?",
            "Validate how {path} registers its services.", "Check the svcs registration of {path}.",
            "Are the @injectable services in {path} set up right?",
            "Review service registration in {path} for DI mistakes.",
            "Does {path} register its services with the container properly?",
            "Inspect the DI registrations in {path}.",
            "Look at {path}: are its services registered the right way?",
        ),
        clauses=("check its service registration", "review its svcs setup"),
        file_parameter="file_path",
        file_hints=("Inject[", "@injectable", "svcs"),
    ),
    "check_dependency_graph": ToolData(
        asks=(
            "Are there dependency cycles in {path}?",
            "Check {path} for layer violations between services.",
            "Analyse the service dependency graph of {path}.",
            "Does {path} depend on anything it shouldn't?",
            "Look for circular service dependencies in {path}.",
            "Validate the dependency layering of {path}.",
            "Inspect which services {path} depends on and flag violations.",
            "Is the dependency graph of {path} acyclic?",
        ),
        clauses=("look for dependency cycles", "check its dependency layering"),
        file_parameter="file_path",
        file_hints=("Inject[", "@injectable", "svcs"),
    ),
    "validate_injection_site": ToolData(
        asks=(
            "Are the Inject[] fields in {path} correct?", "Check the injection sites of {path}.",
            "Do all Inject[...] types in {path} have their imports?",
            "Validate the Inject[] annotations in {path}.",
            "Is every injected dependency in {path} imported?",
            "Review the Inject[] usage in {path}.",
            "Find Inject[] fields in {path} whose types lack an import.",
            "Inspect the dependency injection sites declared in {path}.",
        ),
        clauses=("verify its Inject[] imports", "check its injection sites"),
        file_parameter="file_path",
        file_hints=("Inject[", "@injectable", "svcs"),
    ),
    "validate_middleware_chain": ToolData(
        asks=(
            "Check the middleware in {path}.", "Is the @middleware in {path} written correctly?",
            "Validate the middleware chain of {path}.",
            "Does the middleware class in {path} have the right __call__ signature?",
            "Review {path} against the middleware rules.",
            "Are there problems with the middleware defined in {path}?",
            "Audit the @middleware decorators in {path}.",
            "Is the middleware chain in {path} wired up properly?",
        ),
        clauses=("check its middleware", "validate the @middleware usage"),
        file_parameter="file_path",
        file_hints=("middleware",),
    ),
    "check_di_template_binding": ToolData(
        asks=(
            "Do the html() calls in {path} pass context=?",
            "Check template binding for injectable components in {path}.",
            "Is context= given to html() wherever {path} renders DI components?",
            "Validate the DI template binding in {path}.",
            "Make sure {path} passes the container context to html().",
            "Are injectable components in {path} rendered with context=?",
            "Look for html() calls missing context= in {path}.",
            "Review how {path} binds DI context in its templates.",
        ),
        clauses=("check that html() gets context=", "verify its DI binding"),
        file_parameter="file_path",
        file_hints=("html(",),
    ),
    "validate_route_pattern": ToolData(
        asks=(
            "Are the route patterns in {path} valid?", "Check the URL routes declared in {path}.",
            "Validate the path patterns of the routes in {path}.",
            "Do the @route paths in {path} have correct syntax?",
            "Inspect the routing table in {path} for malformed patterns.",
            "Review the route definitions in {path}.", "Are any routes in {path} badly formed?",
            "Look at {path}: are its route parameters written correctly?",
        ),
        clauses=("validate its route patterns", "check its URL patterns"),
        file_parameter="file_path",
        file_hints=("@route(", "route("),
    ),
}
# fmt: on
