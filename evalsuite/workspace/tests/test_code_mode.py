from src.agent.code_mode import execute_code, run_code, validate_code


def test_returns_printed_output():
    assert execute_code("print(sum(range(5)))") == "10"


def test_preloaded_modules_are_available():
    assert execute_code("print(json.dumps({'a': math.floor(2.7)}))") == '{"a": 2}'


def test_allowed_import():
    assert execute_code("from collections import Counter\nprint(Counter('aab')['a'])") == "2"


def test_blocked_import_is_rejected_before_running():
    assert validate_code("import subprocess") == ["import of 'subprocess' is not allowed"]
    output = execute_code("import os\nprint(os.getcwd())")
    assert output.startswith("PolicyError:")


def test_open_is_not_available():
    assert "open() is not allowed" in execute_code("open('/etc/passwd').read()")


def test_syntax_error_is_reported():
    assert execute_code("print(1 +)").startswith("SyntaxError:")


def test_runtime_error_keeps_partial_output():
    result = run_code("print('before')\n1 / 0")
    assert not result.ok
    assert result.stdout == "before\n"
    assert result.error == "ZeroDivisionError: division by zero (line 2)"


def test_empty_snippet():
    assert execute_code("   ") == "Error: no code given"
