"""The plain-text answer that follows a tool's result in a multi-turn example.

Results of a known shape (a check's ``ok``/``issues``, a test report) are summed up the same way
for every tool; otherwise the tool's own answer function (named by its entry in
``data/tools.py``) speaks, and a tool without one, or one that declines (returns None), gets the
first line of a text result or "TOOL finished.".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from codemode_trainer.data.snippets import Ran

#: A tool's answer: ``(tool, keyword arguments, result) -> text``, None to fall back.
Answer = Callable[[str, Mapping[str, Any], Any], str | None]


def answer(ran: Ran, answer_of: Callable[[str], Answer | None]) -> str:
    """A short plain-text answer that sums up the calls' results for the user."""
    return " ".join(
        _summary(tool, kwargs, result, answer_of(tool)) for tool, kwargs, result in ran.calls
    )


def _summary(tool: str, kwargs: Mapping[str, Any], result: Any, own: Answer | None) -> str:
    path = _path(kwargs)
    if isinstance(result, dict) and "ok" in result:
        if result["ok"]:
            return f"`{path}` passes the {tool.replace('_', ' ')} check."
        return f"`{path}` has a problem at line {result['issues'][0]['line']}: " + (
            f"{result['issues'][0]['message']}."
        )
    if isinstance(result, dict) and "passed" in result:
        return f"{result['passed']} tests passed and {result['failed']} failed in `{path}`."
    text = own(tool, kwargs, result) if own is not None else None
    if text is not None:
        return text
    if isinstance(result, str) and result:
        return result.splitlines()[0].rstrip(".:") + "."
    return f"{tool} finished."


def _path(kwargs: Mapping[str, Any]) -> Any:
    return kwargs.get("path") or kwargs.get("file_path") or ""


def _symbol(kwargs: Mapping[str, Any]) -> Any:
    return kwargs.get("symbol", kwargs.get("query", ""))


# --- per-tool answers; the tool table names them ---


def read_file(tool: str, kwargs: Mapping[str, Any], result: Any) -> str:
    return f"That is the text of `{_path(kwargs)}`."


def diagnostics(tool: str, kwargs: Mapping[str, Any], result: Any) -> str:
    if not result:
        return f"No {'type' if tool == 'typecheck' else 'lint'} issues in `{_path(kwargs)}`."
    first = result[0]
    where = f"{first['file']}:{first['line']}"
    return f"{len(result)} issue(s); the first is {first['code']} at {where}."


def goto_definition(tool: str, kwargs: Mapping[str, Any], result: Any) -> str:
    symbol = _symbol(kwargs)
    if result:
        return f"`{symbol}` is defined in `{result[0]['file']}` at line {result[0]['line']}."
    return f"No definition found for `{symbol}`."


def find_references(tool: str, kwargs: Mapping[str, Any], result: Any) -> str:
    files = sorted({loc["file"] for loc in result})
    return f"`{_symbol(kwargs)}` is referenced {len(result)} time(s), in {', '.join(files)}."


def symbols(tool: str, kwargs: Mapping[str, Any], result: Any) -> str:
    names = ", ".join(f"`{item['name']}`" for item in result)
    return f"Found {len(result)} symbol(s): {names}." if result else "No symbols found."


def git_log(tool: str, kwargs: Mapping[str, Any], result: Any) -> str:
    last = result[0]
    return f"The latest commit is {last['sha'][:7]} by {last['author']}: {last['message']}."


def cst_find_pattern(tool: str, kwargs: Mapping[str, Any], result: Any) -> str:
    return f"{len(result)} {kwargs.get('pattern')} match(es) in `{_path(kwargs)}`."


def hover(tool: str, kwargs: Mapping[str, Any], result: Any) -> str | None:
    if not (isinstance(result, str) and "\n" in result):
        return None
    head, doc = result.split("\n", 1)
    kind, where = head.split(")", 1)[0].lstrip("("), head.split("[")[-1].rstrip("]")
    return f"`{_symbol(kwargs)}` is a {kind} at {where}: {doc}"


def git_status(tool: str, kwargs: Mapping[str, Any], result: Any) -> str:
    changed = [line.split()[-1] for line in result.splitlines() if "modified:" in line]
    return f"Modified: {', '.join(changed)}." if changed else "The working tree is clean."


def git_diff(tool: str, kwargs: Mapping[str, Any], result: Any) -> str:
    return f"One change, in `{result.split()[2][2:]}`." if result else "No changes."


def run_command(tool: str, kwargs: Mapping[str, Any], result: Any) -> str:
    command = " ".join([kwargs["command"], *(kwargs.get("args") or [])])
    return f"`{command}` printed {len(result.splitlines())} line(s)."
