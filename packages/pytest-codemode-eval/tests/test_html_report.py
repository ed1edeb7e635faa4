"""The offline HTML report: its data block, the plugin option, and the page in a real browser.

The run behind the browser tests is the Phase 40 replay of the real suite, compared with itself
after three edits: git-03 now a Code Mode call (improved), valid-02 prose (regressed), and
text-01 a hostile output that tries to run script, add an element, change the title and close
the element that shows it (`</details>`, `</script>`, `<!--`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chromium import Dom, chromium_or_skip, dump_dom, screenshot

from pytest_codemode_eval.html_report import render_html, script_json

REPO_ROOT = Path(__file__).resolve().parents[3]
EVALSUITE = REPO_ROOT / "evalsuite"
ARTEFACTS = REPO_ROOT / ".artefacts"
HOSTILE = (
    "<think>plan: <b>bold</b> </pre></think>Here you go: <script>alert(1)</script>"
    '<script>document.title="pwned";'
    'document.body.appendChild(document.createElement("blink")).id="pwned"</script>'
    "</details></td></tr></table><img src=x onerror=\"document.title='img'\"></script><!--"
    " {{SCRIPT}} \u2028 end"
)
DATA_BLOCK = re.compile(r'<script type="application/json" id="codemode-data">(.*?)</script>', re.S)


def data_of(page: str) -> Any:
    found = DATA_BLOCK.search(page)
    assert found is not None
    return json.loads(found.group(1))


# ---------------------------------------------------------------------------------------------
# The page as text: no browser needed.


def test_model_text_cannot_close_the_data_block() -> None:
    document = {
        "identity": {"suite": "<script>x</script>"},
        "cases": [{"id": "a", "output": "</script><script>alert(1)</script><!--<script>"}],
        "odd": "\u2028\u0085\ud800 {{DATA}} {{SCRIPT}}",
    }
    page = render_html(document)
    assert len(re.findall("</script", page, re.I)) == 2  # the data block's and the page script's
    assert "<!--" not in page
    assert page.count("<title>Code Mode eval: &lt;script&gt;x&lt;/script&gt;</title>") == 1
    assert data_of(page)["results"] == document  # every string reads back as itself
    assert page.count('"use strict"') == 1  # a placeholder in the data is only text


def test_script_json_escapes_only_inside_strings() -> None:
    assert script_json({"a": "<&>"}) == '{"a": "\\u003c\\u0026\\u003e"}'
    assert json.loads(script_json(["</script>"])) == ["</script>"]


# ---------------------------------------------------------------------------------------------
# A real run: the plugin writes the page from the same document as the results JSON.


def run_suite(out: Path, replay: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "pytest", str(EVALSUITE), "-p", "no:cacheprovider", "-q",
        "--override-ini=addopts=", "--codemode-backend=replay", f"--codemode-replay={replay}",
        f"--codemode-results={out / 'results.json'}", f"--codemode-html={out / 'report.html'}",
        *extra,
    ]  # fmt: skip
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)


def edited_replay(path: Path) -> Path:
    lines = [json.loads(line) for line in (EVALSUITE / "replays/phase40-8b.jsonl").open()]
    edits = {
        "text-01": HOSTILE,
        "git-03": '<tool_call>{"name": "execute_code", "arguments": '
        '{"code": "print(git_log(\'.\', count=5))"}}</tool_call>',
        "valid-02": "Run ruff on src/ yourself.",
    }
    for line in lines:
        line["output"] = edits.get(line["id"], line["output"])
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The baseline run, then the edited run compared with it, with the dry run on."""
    root = tmp_path_factory.mktemp("html-run")
    (root / "base").mkdir()
    run_suite(root / "base", EVALSUITE / "replays/phase40-8b.jsonl")
    new = root / "new"
    new.mkdir()
    done = run_suite(
        new, edited_replay(root / "edited.jsonl"), "--codemode-dry-run",
        f"--codemode-baseline={root / 'base' / 'results.json'}",
    )  # fmt: skip
    assert (new / "report.html").is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    return new


def results(run: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((run / "results.json").read_text(encoding="utf-8"))
    return document


@pytest.mark.slow
def test_page_holds_the_results_document_and_the_baseline_cases(run: Path) -> None:
    data = data_of((run / "report.html").read_text(encoding="utf-8"))
    assert data["results"] == results(run)  # comparison included: the JSON's very document
    assert {flip["id"]: flip["direction"] for flip in data["results"]["comparison"]["flips"]} == {
        "git-03": "improved",
        "valid-02": "regressed",
    }
    assert [case["id"] for case in data["baseline"]["cases"]] == [
        case["id"] for case in data["results"]["cases"]
    ]


@pytest.mark.slow
def test_html_path_is_checked_before_the_first_case(tmp_path: Path) -> None:
    (tmp_path / "report.html").mkdir()
    done = run_suite(tmp_path, EVALSUITE / "replays/phase40-8b.jsonl")
    assert "--codemode-html:" in done.stderr
    assert "is a directory" in done.stderr


# ---------------------------------------------------------------------------------------------
# In a real browser.


@pytest.fixture(scope="module")
def browser() -> str:
    return chromium_or_skip()


def open_page(browser: str, run: Path, fragment: str, tmp_path: Path) -> Dom:
    dom = Dom(dump_dom(browser, (run / "report.html").as_uri() + fragment, tmp_path / "profile"))
    body = dom.find("body")[0]
    assert body.attrs.get("data-rendered") == "true", "the page's script did not finish"
    return dom


def shown_ids(dom: Dom) -> list[str]:
    return [row.attrs["data-id"] for row in dom.find("tr", "case")]


@pytest.mark.slow
def test_every_case_is_rendered(browser: str, run: Path, tmp_path: Path) -> None:
    dom = open_page(browser, run, "", tmp_path)
    ids = [case["id"] for case in results(run)["cases"]]
    assert shown_ids(dom) == ids
    assert "27 of 27 cases shown" in dom.text_of("span")
    assert len(dom.find("svg")) == 1  # the category chart
    assert len(dom.find("table", "confusion")) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fragment", "wanted"),
    [
        ("#verdict=prose", lambda case: case["verdict"] == "prose"),
        ("#category=git", lambda case: case["category"] == "git"),
        ("#change=regressed", lambda case: case["id"] == "valid-02"),
        ("#q=git_log", lambda case: "git_log" in case["output"] + case["prompt"] + case["note"]),
    ],
)
def test_a_filter_hides_the_other_cases(
    browser: str, run: Path, tmp_path: Path, fragment: str, wanted: Any
) -> None:
    cases = results(run)["cases"]
    expected = [case["id"] for case in cases if wanted(case)]
    assert 0 < len(expected) < len(cases)
    assert shown_ids(open_page(browser, run, fragment, tmp_path)) == expected


@pytest.mark.slow
def test_hostile_output_shows_as_text_and_runs_nothing(
    browser: str, run: Path, tmp_path: Path
) -> None:
    dom = open_page(browser, run, "#case=text-01", tmp_path)
    assert dom.text_of("title") == ["Code Mode eval: codemode-27"]
    assert not dom.by_id("pwned")
    assert [tag for tag in ("blink", "img", "b") if dom.find(tag)] == []
    outputs = dom.text_of("pre", "output")
    assert len(outputs) == 2  # baseline and this run, side by side
    case = next(c for c in results(run)["cases"] if c["id"] == "text-01")
    assert outputs[1] == case["output"] == HOSTILE
    assert dom.text_of("pre", "think") == [case["think"]]
    assert len(dom.find("script")) == 2  # the page's own: nothing was added


@pytest.mark.slow
def test_a_screenshot_is_kept_as_an_artefact(browser: str, run: Path, tmp_path: Path) -> None:
    """The top of the page, and the whole page with the hostile case open, kept in .artefacts/
    (git-ignored) for a person to look at."""
    url = (run / "report.html").as_uri()
    shots = [
        screenshot(browser, url, tmp_path / "html-report.png", tmp_path / "p1"),
        screenshot(
            browser, url + "#case=text-01&case=git-03", tmp_path / "html-report-cases.png",
            tmp_path / "p2", size="1400,3600",
        ),
    ]  # fmt: skip
    ARTEFACTS.mkdir(exist_ok=True)
    for shot in shots:
        assert shot.stat().st_size > 10_000  # a drawn page, not a blank one
        shutil.copy(shot, ARTEFACTS / shot.name)


@pytest.mark.slow
def test_a_thousand_cases_all_render(browser: str, run: Path, tmp_path: Path) -> None:
    """Rows are added in chunks between frames: all of them arrive, with the first at once."""
    document = results(run)
    base = document["cases"]
    document["cases"] = [
        {**base[i % len(base)], "id": f"{base[i % len(base)]['id']}-{i}"} for i in range(1000)
    ]
    page = tmp_path / "large.html"
    page.write_text(render_html(document), encoding="utf-8")
    dom = Dom(dump_dom(browser, page.as_uri(), tmp_path / "profile"))
    assert len(shown_ids(dom)) == 1000
    assert dom.find("body")[0].attrs.get("data-rendered") == "true"
