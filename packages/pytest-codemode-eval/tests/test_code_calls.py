"""analyse_code: the calls Code Mode code makes, in execution order, with literal arguments."""

from __future__ import annotations

import pytest

from pytest_codemode_eval.code_calls import CodeCall, Unresolved, analyse_code


def calls(code: str) -> tuple[CodeCall, ...]:
    analysis = analyse_code(code)
    assert analysis.syntax_error is None, analysis.syntax_error
    return analysis.calls


def names(code: str) -> list[str]:
    return [call.name for call in calls(code)]


def only(code: str, name: str) -> CodeCall:
    found = [call for call in calls(code) if call.name == name]
    assert len(found) == 1, found
    return found[0]


# --- execution order ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "order"),
    [
        pytest.param("a()\nb()\nc()", ["a", "b", "c"], id="statements"),
        pytest.param("c(b(a()))", ["a", "b", "c"], id="nested-inner-first"),
        pytest.param("c(a(), b())", ["a", "b", "c"], id="arguments-left-to-right"),
        pytest.param("c(a(), key=b())", ["a", "b", "c"], id="keywords-after-positionals"),
        pytest.param("x = b(a())\nd(c(x))", ["a", "b", "c", "d"], id="assignments"),
        pytest.param("for f in a():\n    b(f)\nc()", ["a", "b", "c"], id="loop"),
        pytest.param("a()(b())", ["a", "b"], id="callee-before-its-arguments"),
        pytest.param("obj.method(a())\nb()", ["a", "b"], id="attribute-calls-not-listed"),
        pytest.param("async def m():\n    await a(b())", ["b", "a"], id="await"),
    ],
)
def test_calls_in_execution_order(code: str, order: list[str]) -> None:
    assert names(code) == order


def test_deeply_nested_calls_are_all_found_inner_first() -> None:
    depth = 150
    code = "".join(f"f{i}(" for i in range(depth)) + ")" * depth
    assert names(code) == [f"f{i}" for i in reversed(range(depth))]


def test_nesting_beyond_the_parser_is_a_syntax_error_not_a_crash() -> None:
    code = "f(" * 5000 + ")" * 5000
    analysis = analyse_code(code)
    assert analysis.syntax_error
    assert analysis.calls == ()


def test_line_numbers() -> None:
    assert [c.line for c in calls("\nread_file('a')\n\ngit_status('.')")] == [2, 4]


# --- what is not a call ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        pytest.param('# read_file("a")\nprint("x")', id="comment"),
        pytest.param("print(\"read_file('a')\")", id="string"),
        pytest.param('"""read_file("a")"""\nprint(1)', id="docstring"),
        pytest.param("f = read_file\nprint(f)", id="reference-without-call"),
        pytest.param('def read_file(p):\n    return p\nprint(read_file("a"))', id="def-shadows"),
        pytest.param('read_file = print\nread_file("a")', id="assignment-shadows"),
        pytest.param("class read_file:\n    pass\nread_file()", id="class-shadows"),
        pytest.param('g = lambda read_file: read_file("a")', id="parameter-shadows"),
    ],
)
def test_tool_named_but_not_called(code: str) -> None:
    assert "read_file" not in names(code)


def test_imported_tool_still_counts() -> None:
    assert names('from tools import read_file\nprint(read_file("a"))') == ["read_file", "print"]


# --- argument values ------------------------------------------------------------------------


def test_literal_arguments() -> None:
    call = only('git_log("src/", count=-5, flags=[1, (2, 3)], opts={"a": None})', "git_log")
    assert call.args == ("src/",)
    assert call.kwargs == {"count": -5, "flags": [1, (2, 3)], "opts": {"a": None}}
    assert not call.starred


def test_top_level_constants_are_resolved() -> None:
    code = 'PATH = "src/app.py"\nN = 5\ntyped: str = "tests/"\nread_file(PATH)\ngit_log(".", N)'
    code += "\npytest_run(path=typed)"
    assert only(code, "read_file").args == ("src/app.py",)
    assert only(code, "git_log").args == (".", 5)
    assert only(code, "pytest_run").kwargs == {"path": "tests/"}


@pytest.mark.parametrize(
    ("code", "source"),
    [
        pytest.param(
            'loc = goto_definition("a")\nread_file(loc[0]["file"])',
            "loc[0]['file']",
            id="earlier-result",
        ),
        pytest.param("read_file(input())", "input()", id="call-result"),
        pytest.param('p = "a"\np = "b"\nread_file(p)', "p", id="reassigned"),
        pytest.param('p = "a"\np += "b"\nread_file(p)', "p", id="augmented"),
        pytest.param('for p in ["a"]:\n    read_file(p)', "p", id="loop-variable"),
        pytest.param('def f():\n    p = "a"\n    read_file(p)', "p", id="local-not-top-level"),
        pytest.param('base = "src"\nread_file(base + "/a.py")', "base + '/a.py'", id="expression"),
        pytest.param('d = "src"\nread_file(f"{d}/a.py")', "f'{d}/a.py'", id="f-string-placeholder"),
        pytest.param("read_file(undefined)", "undefined", id="unknown-name"),
    ],
)
def test_run_time_values_are_unresolved(code: str, source: str) -> None:
    assert only(code, "read_file").args == (Unresolved(source),)


def test_f_string_without_placeholders_is_a_string() -> None:
    assert only('read_file(f"src/app.py")', "read_file").args == ("src/app.py",)
    assert only('read_file(f"")', "read_file").args == ("",)


@pytest.mark.parametrize(
    ("code", "args", "kwargs"),
    [
        pytest.param('read_file(*["a"])', (), {}, id="star-args"),
        pytest.param('read_file("a", *rest)', ("a",), {}, id="star-after-positional"),
        pytest.param('read_file(**{"path": "a"})', (), {}, id="double-star"),
        pytest.param('read_file(x="b", **extra)', (), {"x": "b"}, id="double-star-after-kwarg"),
    ],
)
def test_starred_arguments_are_flagged(
    code: str, args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    call = only(code, "read_file")
    assert call.starred
    assert (call.args, dict(call.kwargs)) == (args, kwargs)


def test_deeply_nested_literal() -> None:
    value: object = "x"
    for _ in range(50):
        value = [value]
    assert only(f"read_file({value!r})", "read_file").args == (value,)


# --- code that cannot be analysed -----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        pytest.param('print(read_file("a")', "line 1", id="unclosed-paren"),
        pytest.param("def f(:\n    pass", "line 1", id="bad-def"),
        pytest.param("x = 1\n  y = 2", "line 2", id="indentation"),
        pytest.param("a\x00b", "", id="nul-byte"),
        pytest.param(None, "code is NoneType, not a string", id="none"),
        pytest.param(42, "code is int, not a string", id="int"),
    ],
)
def test_code_that_does_not_parse(code: object, error: str) -> None:
    analysis = analyse_code(code)
    assert analysis.syntax_error
    assert error in analysis.syntax_error
    assert analysis.calls == ()


def test_top_level_await_parses() -> None:
    assert names('print(await read_file("a"))') == ["read_file", "print"]


def test_model_code_that_python_warns_about_raises_no_warning() -> None:
    """An invalid escape in model code is the model's, not a warning in the user's run."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analysis = analyse_code('print(read_file("a\\#b"))')
    assert analysis.syntax_error is None
