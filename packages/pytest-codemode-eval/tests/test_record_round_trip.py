"""--codemode-record writes JSONL that read_replay reads back identically, for every string.

U+2028, U+2029 and U+0085 were written raw and read back with `str.splitlines()`, which splits
on them, so a record line came back as two broken ones; a lone surrogate made writing the record
(and the results and the report) raise UnicodeEncodeError at the end of the run.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_codemode_eval.backends.replay import read_replay, record_line

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"
NASTY = [
    "a\u2028b",
    "a\u2029b",
    "a\u0085b",
    "a\rb\r\nc\n",
    "lone \ud800 and \udfff",
    "nul \x00 byte",
    "\x0b\x0c\x1c\x1d\x1e",
    "<tool_call>\n<function=git_status>\n</function>\n</tool_call>",
    "😀 é ß",
]
# Any code point, lone surrogates included (st.text() leaves them out by default).
ANY_TEXT = st.text(st.characters(exclude_categories=()))


def write_record(path: Path, records: dict[str, str]) -> None:
    """As the reporter writes --codemode-record: one record_line per case, UTF-8."""
    lines = [record_line(case_id, {"output": output}) for case_id, output in records.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def no_split_pair(text: str) -> bool:
    """A high surrogate right before a low one is the pair's character once through JSON."""
    return not any(
        "\ud800" <= a <= "\udbff" and "\udc00" <= b <= "\udfff" for a, b in itertools.pairwise(text)
    )


@pytest.mark.parametrize("output", NASTY)
def test_nasty_output_round_trips(tmp_path: Path, output: str) -> None:
    write_record(tmp_path / "rec.jsonl", {"git-01": output})
    assert read_replay(tmp_path / "rec.jsonl")["git-01"][0].output == output


def test_record_line_is_one_line_to_every_line_splitter() -> None:
    line = record_line("git-01", {"output": "".join(NASTY), "error": "x\u2028y"})
    assert len(line.splitlines()) == 1
    line.encode("utf-8")  # no lone surrogate left raw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outputs=st.lists(ANY_TEXT.filter(no_split_pair), min_size=1, max_size=5))
def test_any_output_round_trips(
    tmp_path_factory: pytest.TempPathFactory, outputs: list[str]
) -> None:
    path = tmp_path_factory.mktemp("record") / "rec.jsonl"
    records = {f"case-{i}": output for i, output in enumerate(outputs)}
    write_record(path, records)
    assert {k: g[0].output for k, g in read_replay(path).items()} == records


def test_windows_line_endings_still_read(tmp_path: Path) -> None:
    line = record_line("git-01", {"output": "x"})
    (tmp_path / "rec.jsonl").write_bytes(f"{line}\r\n\r\n".encode())
    assert read_replay(tmp_path / "rec.jsonl")["git-01"][0].output == "x"


@pytest.mark.slow
def test_record_of_a_run_replays_the_same_outputs(pytester: pytest.Pytester) -> None:
    """End to end: replay nasty outputs, record them, read the record back."""
    shutil.copytree(
        EVALSUITE, pytester.path / "evalsuite", ignore=shutil.ignore_patterns("workspace")
    )
    pytester.makeini("[pytest]\n")
    outputs = {"git-01": "".join(NASTY[:6]), "git-03": "<script>\u2028</details>\ud800"}
    replay = [json.dumps({"id": k, "output": v}) for k, v in outputs.items()]
    (pytester.path / "in.jsonl").write_text("\n".join(replay) + "\n", encoding="utf-8")
    result = pytester.runpytest(
        "evalsuite", "-k", "git-01 or git-03", "--codemode-backend=replay",
        "--codemode-replay=in.jsonl", "--codemode-record=rec.jsonl",
        "--codemode-results=r.json", "--codemode-report=r.md",
    )  # fmt: skip
    result.assert_outcomes(failed=2)  # prose scores 0; the point is that every file is written
    recorded = read_replay(pytester.path / "rec.jsonl")
    assert {k: g[0].output for k, g in recorded.items()} == outputs
    cases = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))["cases"]
    assert {case["id"]: case["output"] for case in cases} == outputs
