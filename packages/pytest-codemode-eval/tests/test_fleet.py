"""A fleet of OpenAI-compatible servers as one backend, against scripted servers (fast).

The real thing (two and three `mlx_lm.server` processes, one killed mid-run) is in
`test_fleet_mlx_servers.py`; here each failure is scripted so each rule is seen on its own.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from server_fixture import (
    FakeHandler,
    FakeServer,
    Reply,
    chunk,
    fake_server,
    silence,
    sse,
    status,
    usage,
)

from pytest_codemode_eval.backends.fleet import HUNG, FleetBackend
from pytest_codemode_eval.backends.openai import ServerError
from pytest_codemode_eval.evaluate import Budgets, build_request, result_from_generation
from pytest_codemode_eval.generation import Generation, GenerationRequest
from pytest_codemode_eval.score import Verdict
from pytest_codemode_eval.suite import Suite

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"


def echo(handler: FakeHandler) -> None:
    """An answer that names the request's own prompt: outputs differ per case, not per server."""
    prompt = handler.server.bodies[-1]["messages"][-1]["content"]
    sse(chunk(f"About: {prompt}"), chunk(finish="stop"), usage(100, 5), delay=0.02)(handler)


@pytest.fixture
def servers() -> Iterator[list[FakeServer]]:
    """Three scripted servers that answer every request with `echo` until told otherwise."""
    with ExitStack() as stack:
        yield [stack.enter_context(fake_server(("m",), echo)) for _ in range(3)]


def requests_for(suite: Suite, count: int, budget: float = 30.0) -> list[GenerationRequest]:
    budgets = Budgets(max_tokens=24, time_budget=budget)
    return [build_request(case, suite, budgets) for case in suite.cases[:count]]


def fleet(servers: list[FakeServer], **settings: Any) -> FleetBackend:
    return FleetBackend([s.base_url for s in servers], backoff=0.01, **settings)


def run_all(backend: FleetBackend, requests: list[GenerationRequest]) -> list[Generation]:
    """Every request's generation by index, checking each index comes back exactly once."""
    streamed = list(backend.generate_stream(requests))
    assert sorted(index for index, _ in streamed) == list(range(len(requests)))
    return [generation for _, generation in sorted(streamed, key=lambda pair: pair[0])]


def script(server: FakeServer, reply: Reply) -> None:
    server.replies = [reply]


def test_cases_are_shared_and_each_answered_once(suite: Suite, servers: list[FakeServer]) -> None:
    requests = requests_for(suite, 9)
    generations = run_all(fleet(servers), requests)
    answered_by = [g.endpoint for g in generations]
    assert all(s.base_url in answered_by for s in servers)
    assert sum(len(s.bodies) for s in servers) == 9
    assert [g.output for g in generations] == [
        f"About: {r.messages[-1]['content']}" for r in requests
    ]


def test_one_by_one_the_cases_take_turns(suite: Suite, servers: list[FakeServer]) -> None:
    """Serially every endpoint is idle: the one sent the fewest requests takes the next."""
    backend = fleet(servers)
    answered_by = [backend.generate(r).endpoint for r in requests_for(suite, 6)]
    assert answered_by == [s.base_url for s in servers] * 2


def test_a_busy_endpoint_gets_fewer_cases(suite: Suite, servers: list[FakeServer]) -> None:
    def slow(handler: FakeHandler) -> None:
        time.sleep(1.5)
        echo(handler)

    script(servers[0], slow)
    generations = run_all(fleet(servers[:2], concurrency=2), requests_for(suite, 12))
    answered_by = [g.endpoint for g in generations]
    assert answered_by.count(servers[1].base_url) >= 8  # the fast one frees its slots sooner


def test_a_refused_endpoint_leaves_and_its_cases_run_elsewhere(
    suite: Suite, servers: list[FakeServer]
) -> None:
    backend = fleet(servers, concurrency=2)
    down = servers[1].base_url
    servers[1].shutdown()
    servers[1].server_close()  # now refused
    generations = run_all(backend, requests_for(suite, 8))
    assert all(g.finish == "stop" and g.endpoint != down for g in generations)
    failed_over = [g for g in generations if g.endpoint_failures]
    assert 1 <= len(failed_over) <= 2  # those sent there at once; then it was out of rotation
    (failure,) = failed_over[0].endpoint_failures
    assert failure["url"] == down
    assert "connection refused" in failure["error"]
    assert backend.endpoints[1].failure == failure["error"]


def test_a_5xx_endpoint_leaves_after_its_retries(suite: Suite, servers: list[FakeServer]) -> None:
    script(servers[0], status(503, "overloaded"))
    backend = fleet(servers[:2], retries=2)
    generations = [backend.generate(r) for r in requests_for(suite, 4)]
    assert len(servers[0].bodies) == 3  # one case, three attempts, then out of rotation
    assert [g.endpoint for g in generations] == [servers[1].base_url] * 4
    assert (
        "HTTP 503 Service Unavailable: overloaded (gave up after 3 attempts)"
        in (generations[0].endpoint_failures[0]["error"])
    )


def test_a_hung_endpoint_leaves_and_the_case_runs_elsewhere(
    suite: Suite, servers: list[FakeServer]
) -> None:
    script(servers[0], silence)
    backend = fleet(servers[:2])
    first, second = (backend.generate(r) for r in requests_for(suite, 2, budget=0.5))
    assert (first.finish, first.endpoint) == ("stop", servers[1].base_url)
    assert first.endpoint_failures == ({"url": servers[0].base_url, "error": HUNG},)
    assert second.endpoint == servers[1].base_url
    assert len(servers[0].bodies) == 1


def test_a_case_slow_everywhere_times_out_and_no_endpoint_is_lost(
    suite: Suite, servers: list[FakeServer]
) -> None:
    for server in servers[:2]:
        script(server, silence)
    backend = fleet(servers[:2])
    generation = backend.generate(requests_for(suite, 1, budget=0.3)[0])
    assert (generation.finish, generation.endpoint_failures) == ("timeout", ())
    assert all(e.in_rotation for e in backend.endpoints)  # two agreed: the case is slow


def test_with_every_endpoint_gone_the_cases_are_errors_and_nothing_raises(
    suite: Suite, servers: list[FakeServer]
) -> None:
    backend = fleet(servers[:2])
    for server in servers[:2]:
        server.shutdown()
        server.server_close()
    generations = run_all(backend, requests_for(suite, 3))
    assert {g.finish for g in generations} == {"error"}
    error = str(generations[-1].error)
    assert error.startswith("no endpoint left in the rotation (")
    assert all(f"{s.base_url}: cannot connect" in error for s in servers[:2])
    result = result_from_generation(suite.cases[2], suite, generations[-1])
    assert result.verdict == Verdict.ERROR


def test_a_refused_request_is_the_case_error_and_the_endpoint_stays(
    suite: Suite, servers: list[FakeServer]
) -> None:
    script(servers[0], status(400, "prompt too long"))
    backend = fleet(servers[:2])
    bad, good = (backend.generate(r) for r in requests_for(suite, 2))
    assert (bad.finish, bad.endpoint) == ("error", servers[0].base_url)
    assert str(bad.error).endswith("prompt too long")
    assert good.endpoint == servers[1].base_url
    assert all(e.in_rotation for e in backend.endpoints)


def test_every_endpoint_must_serve_the_model() -> None:
    with (
        fake_server(("qwen3",)) as first,
        fake_server(("llama",)) as other,
        pytest.raises(ServerError) as error,
    ):
        FleetBackend([first.base_url, other.base_url])
    assert str(error.value) == (
        f"model 'qwen3' is not served by {other.base_url} (it serves: llama)"
    )


def test_the_identity_names_every_endpoint(servers: list[FakeServer]) -> None:
    identity = fleet(servers, concurrency=3).identity()
    assert [e["url"] for e in identity["endpoints"]] == [s.base_url for s in servers]
    assert identity["name"] == "m"
    assert identity["settings"]["concurrency"] == 3
    assert "base_url" not in identity


# ---------------------------------------------------------------------------------------------
# Through pytest: options, the report and the results file.


@pytest.fixture
def real(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(
        EVALSUITE,
        pytester.path / "evalsuite",
        ignore=shutil.ignore_patterns("workspace", "__pycache__", "replays"),
    )
    return pytester


def test_a_run_over_a_fleet_reports_each_endpoint(
    real: pytest.Pytester, servers: list[FakeServer]
) -> None:
    servers[2].shutdown()
    servers[2].server_close()
    result = real.runpytest(
        "evalsuite", "-m", "git or cst", "--codemode-backend=openai",
        f"--codemode-base-url={servers[0].base_url},{servers[1].base_url}",
        f"--codemode-base-url={servers[2].base_url}", "--codemode-cache=off",
        "--codemode-results=r.json", "--codemode-report=r.md", "-p", "no:cacheprovider",
    )  # fmt: skip
    output = "\n".join(result.outlines)
    assert "backend openai unavailable" in output  # the third is down at start: named
    assert f"cannot connect to {servers[2].base_url}" in output
    result = real.runpytest(
        "evalsuite", "-m", "git or cst", "--codemode-backend=openai",
        f"--codemode-base-url={servers[0].base_url},{servers[1].base_url}",
        "--codemode-batch-size=2", "--codemode-cache=off", "--codemode-results=r.json",
        "--codemode-report=r.md", "-p", "no:cacheprovider",
    )  # fmt: skip
    document = json.loads((real.path / "r.json").read_text("utf-8"))
    rows = document["endpoints"]
    assert [row["url"] for row in rows] == [s.base_url for s in servers[:2]]
    assert sum(row["cases"] for row in rows) == len(document["cases"]) == 6
    assert all(row["cases"] > 0 and row["tokens_per_second"] > 0 for row in rows)
    assert {case["endpoint"] for case in document["cases"]} == {s.base_url for s in servers[:2]}
    report = (real.path / "r.md").read_text("utf-8")
    assert "## Endpoints" in report
    assert f"**Endpoints:** `{servers[0].base_url}`, `{servers[1].base_url}`" in report
    output = "\n".join(result.outlines)
    assert f"endpoints {servers[0].base_url}, {servers[1].base_url}" in output
    assert "failed over" in output


def test_under_xdist_each_worker_has_its_own_fleet_and_the_table_adds_up(
    real: pytest.Pytester, servers: list[FakeServer]
) -> None:
    real.runpytest(
        "evalsuite", "-m", "git or cst or lsp", "-n", "2", "--codemode-backend=openai",
        f"--codemode-base-url={servers[0].base_url},{servers[1].base_url}",
        "--codemode-cache=off", "--codemode-results=r.json", "-p", "no:cacheprovider",
    )  # fmt: skip
    document = json.loads((real.path / "r.json").read_text("utf-8"))
    ids = [case["id"] for case in document["cases"]]
    assert len(ids) == len(set(ids)) == 11  # each case once, whichever worker ran it
    rows = document["endpoints"]
    assert sum(row["cases"] for row in rows) == 11
    assert sum(len(s.bodies) for s in servers[:2]) == 11
    assert all(row["cases"] > 0 for row in rows)


def test_a_url_listed_twice_is_a_usage_error(real: pytest.Pytester) -> None:
    url = "http://127.0.0.1:9/v1"
    result = real.runpytest(
        "evalsuite", "--codemode-backend=openai", f"--codemode-base-url={url}, {url}/"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: --codemode-base-url: {url} listed more than once" in result.stderr.lines
