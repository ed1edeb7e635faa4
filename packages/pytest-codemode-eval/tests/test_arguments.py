"""check_arguments, coerce and normalise: do a call's arguments bind and match the case's pins?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pytest_codemode_eval.arguments import check_arguments, coerce, normalise
from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.code_calls import Unresolved
from pytest_codemode_eval.invocations import Invocation
from pytest_codemode_eval.suite import Case

# --- coerce: XML parameters arrive as text ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "annotation", "coerced"),
    [
        pytest.param("5", "int", 5, id="int"),
        pytest.param(" 5\n", "int", 5, id="int-with-whitespace"),
        pytest.param("-3", "int | None", -3, id="optional-int"),
        pytest.param("five", "int", "five", id="not-an-int-stays-text"),
        pytest.param("5.0", "int", "5.0", id="float-text-is-not-an-int"),
        pytest.param("2.5", "float", 2.5, id="float"),
        pytest.param("true", "bool", True, id="bool-true"),
        pytest.param("False", "bool", False, id="bool-false-any-case"),
        pytest.param("yes", "bool", "yes", id="not-a-bool-stays-text"),
        pytest.param('["src/"]', "list[str] | None", ["src/"], id="list"),
        pytest.param('["a", "b"]', "list[str]", ["a", "b"], id="list-of-two"),
        pytest.param('{"a": 1}', "dict[str, int]", {"a": 1}, id="dict"),
        pytest.param('["a", ', "list[str]", '["a", ', id="broken-json-stays-text"),
        pytest.param("src/", "list[str]", "src/", id="list-from-plain-text-stays-text"),
        pytest.param("src/", "str", "src/", id="str-untouched"),
        pytest.param(" src/\n", "str", " src/\n", id="str-keeps-whitespace-for-normalise"),
        pytest.param(5, "str", 5, id="non-text-untouched"),
        pytest.param(Unresolved("x"), "int", Unresolved("x"), id="unresolved-untouched"),
    ],
)
def test_coerce(value: object, annotation: str, coerced: object) -> None:
    assert coerce(value, annotation) == coerced
    assert type(coerce(value, annotation)) is type(coerced)


def test_coerce_with_the_catalog_annotations(catalog: Catalog) -> None:
    def annotation(tool: str, parameter: str) -> Any:
        return catalog.tools[tool].signature.parameters[parameter].annotation

    assert coerce("5", annotation("git_log", "count")) == 5
    assert coerce("true", annotation("git_diff", "staged")) is True
    assert coerce('["src/"]', annotation("run_command", "args")) == ["src/"]
    assert coerce("12", annotation("goto_definition", "line")) == 12


# --- normalise: how pins compare ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        pytest.param("src/agent/config.py", "src/agent/config.py", id="plain"),
        pytest.param("./src/agent/config.py", "src/agent/config.py", id="dot-slash"),
        pytest.param("././src", "src", id="repeated-dot-slash"),
        pytest.param("src/", "src", id="trailing-slash"),
        pytest.param("./src/agent/config.py/", "src/agent/config.py", id="both"),
        pytest.param("  src/ \n", "src", id="whitespace"),
        pytest.param("src//", "src", id="double-trailing-slash"),
        pytest.param("/", "/", id="root-stays"),
        pytest.param(".", ".", id="dot-stays"),
        pytest.param("ls src/", "ls src", id="command"),
        pytest.param(["./src/", "tests/"], ["src", "tests"], id="list-items"),
        pytest.param(("src/",), ["src"], id="tuple-like-list"),
        pytest.param(5, 5, id="int"),
    ],
)
def test_normalise(value: object, normal: object) -> None:
    assert normalise(value) == normal


def test_normalise_keeps_different_paths_apart() -> None:
    assert normalise("src/a.py") != normalise("src/b.py")
    assert normalise("/src") != normalise("src")


# --- check_arguments: bind to the signature, then match a pin alternative --------------------


def check(
    catalog: Catalog,
    case: Case,
    tool: str,
    *args: object,
    wrapped: bool = True,
    starred: bool = False,
    **kwargs: object,
) -> str | None:
    invocation = Invocation(tool, args, dict(kwargs), wrapped=wrapped, starred=starred)
    return check_arguments(invocation, catalog.tools[tool], case.pins)


def test_binding_positional_and_keyword(catalog: Catalog, cases: Mapping[str, Case]) -> None:
    assert check(catalog, cases["git-03"], "git_log", ".", 5) is None
    assert check(catalog, cases["git-03"], "git_log", path=".", count=5) is None
    assert check(catalog, cases["git-03"], "git_log", ".", count="5", wrapped=False) is None


@pytest.mark.parametrize(
    ("case_id", "tool", "args", "kwargs", "problem"),
    [
        pytest.param(
            "text-01", "read_file", (), {}, "missing a required argument: 'path'", id="missing"
        ),
        pytest.param(
            "text-01",
            "read_file",
            ("src/agent/config.py",),
            {"mode": "r"},
            "unexpected keyword argument 'mode'",
            id="unknown-kwarg",
        ),
        pytest.param(
            "text-01",
            "read_file",
            ("src/agent/config.py", "utf-8"),
            {},
            "too many positional arguments",
            id="too-many",
        ),
        pytest.param(
            "git-03",
            "git_log",
            (".",),
            {"path": "."},
            "multiple values for argument 'path'",
            id="twice",
        ),
    ],
)
def test_arguments_that_do_not_bind(
    catalog: Catalog,
    cases: Mapping[str, Case],
    case_id: str,
    tool: str,
    args: tuple[object, ...],
    kwargs: dict[str, object],
    problem: str,
) -> None:
    invocation = Invocation(tool, args, kwargs, wrapped=True)
    message = check_arguments(invocation, catalog.tools[tool], cases[case_id].pins)
    assert message is not None
    assert message.startswith(f"{tool}: arguments do not bind")
    assert problem in message


def test_pins(catalog: Catalog, cases: Mapping[str, Case]) -> None:
    git_03 = cases["git-03"]
    assert check(catalog, git_03, "git_log", ".", 3) == "git_log: count=3, expected 5"
    assert check(catalog, git_03, "git_log", ".") == "git_log: count=10, expected 5"  # default
    text_01 = cases["text-01"]
    assert check(catalog, text_01, "read_file", "./src/agent/config.py/") is None
    assert check(catalog, text_01, "read_file", "src/agent/app.py") == (
        "read_file: path='src/agent/app.py', expected 'src/agent/config.py'"
    )


def test_every_pinned_argument_must_match(catalog: Catalog, cases: Mapping[str, Case]) -> None:
    cst_02 = cases["cst-02"]
    good = ("src/training/train_runner.py", "TrainingResult", "FineTuneResult")
    assert check(catalog, cst_02, "cst_rename", *good) is None
    message = check(catalog, cst_02, "cst_rename", good[0], good[1], "FinetuneResult")
    assert message == "cst_rename: new_name='FinetuneResult', expected 'FineTuneResult'"


def test_any_pin_alternative_may_match(catalog: Catalog, cases: Mapping[str, Case]) -> None:
    text_03 = cases["text-03"]
    assert check(catalog, text_03, "run_command", "ls src/") is None
    assert check(catalog, text_03, "run_command", " ls src ") is None
    assert check(catalog, text_03, "run_command", "ls", ["src/"]) is None
    assert check(catalog, text_03, "run_command", "ls", args='["src"]', wrapped=False) is None
    message = check(catalog, text_03, "run_command", "ls", ["tests/"])
    assert message is not None
    assert "run_command:" in message


def test_unpinned_arguments_only_need_to_bind(catalog: Catalog, cases: Mapping[str, Case]) -> None:
    lsp_01 = cases["lsp-01"]  # line and column are left open
    assert check(catalog, lsp_01, "goto_definition", "any.py", 999, 0, "AgentConfig") is None
    assert check(catalog, lsp_01, "goto_definition", Unresolved("f"), 1, 1, "AgentConfig") is None
    git_01 = cases["git-01"]  # no pins at all
    assert check(catalog, git_01, "git_status", "anything") is None


def test_run_time_value_for_a_pinned_argument(catalog: Catalog, cases: Mapping[str, Case]) -> None:
    message = check(catalog, cases["text-01"], "read_file", Unresolved("paths[0]"))
    assert message == (
        "read_file: path=paths[0] is only known at run time, expected 'src/agent/config.py'"
    )


def test_starred_call_cannot_be_checked(catalog: Catalog, cases: Mapping[str, Case]) -> None:
    message = check(catalog, cases["text-01"], "read_file", starred=True)
    assert message == "read_file: *args/**kwargs cannot be checked against the signature"
