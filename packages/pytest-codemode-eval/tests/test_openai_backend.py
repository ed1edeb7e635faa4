"""The OpenAI-compatible backend: against a real `mlx_lm.server` (slow) and scripted fakes (fast).

The real server serves the same sharpened offline model as the mlx backend tests (distinct greedy
outputs per case), so "the server answers like the in-process backend" is not vacuous. A random
model never writes a well-formed call, so what the server sends for one (no text, one complete
`tool_calls` delta; nothing at all for a call it cannot parse) is replayed by the fake, in the
shape observed from mlx_lm.server 0.32.2 serving a tiny model taught to call.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# hypothesis's pytest plugin imports `hypothesis` at the end of every in-process pytester run
# unless it is already loaded (2 s each time).
import hypothesis  # noqa: F401
import pytest
from server_fixture import (
    FakeServer,
    chunk,
    fake_server,
    free_port,
    mlx_server,
    silence,
    sse,
    status,
    usage,
)

from pytest_codemode_eval.backends.openai import OpenAIBackend, ServerError
from pytest_codemode_eval.evaluate import (
    Budgets,
    build_request,
    request_seed,
    result_from_generation,
)
from pytest_codemode_eval.generation import GenerationRequest
from pytest_codemode_eval.parse import parse_output
from pytest_codemode_eval.prompt import render_system_prompt
from pytest_codemode_eval.suite import Case, Suite
from pytest_codemode_eval.verdicts import Verdict

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"
GIT_STATUS_CALL = {
    "name": "execute_code",
    "arguments": json.dumps({"code": "print(git_status('.'))"}),
}


def request_for(case: Case, suite: Suite, budget: float = 30.0) -> GenerationRequest:
    return build_request(case, suite, Budgets(max_tokens=24, time_budget=budget))


def git_status_case(suite: Suite) -> Case:
    return next(case for case in suite.cases if case.expected == ("git_status",))


def quick_backend(server: FakeServer, **settings: Any) -> OpenAIBackend:
    return OpenAIBackend(server.base_url, backoff=0.01, **settings)


# ---------------------------------------------------------------------------------------------
# A real mlx_lm.server.


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mlx backend tests' model: tiny, offline, weights sharpened so cases differ."""
    pytest.importorskip("pytest_codemode_eval.backends.mlx")  # fast BLAS before mlx
    init_model = pytest.importorskip("codemode_trainer.training.init_model")
    import mlx.core as mx

    from pytest_codemode_eval.suite import load_suite

    suite = load_suite(EVALSUITE / "suite.toml")
    out = tmp_path_factory.mktemp("models") / "tiny-sharp"
    corpus = [render_system_prompt(suite.catalog), *(case.prompt for case in suite.cases)]
    init_model.init_model(out, "tiny", corpus=corpus, seed=3)
    weights = mx.load(str(out / "model.safetensors"))
    assert isinstance(weights, dict)
    sharpened = {k: v if "norm" in k else v * 6 for k, v in weights.items()}
    mx.save_safetensors(str(out / "model.safetensors"), sharpened)
    return out


@pytest.fixture(scope="module")
def server_url(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlx_server(model_dir, tmp_path_factory.mktemp("mlx-server")) as base_url:
        yield base_url


@pytest.mark.slow
def test_a_case_generates_with_time_tokens_and_finish(server_url: str, suite: Suite) -> None:
    backend = OpenAIBackend(server_url)
    generation = backend.generate(request_for(suite.cases[1], suite))
    assert generation.finish in ("stop", "length")
    assert generation.error is None
    assert 0 < generation.seconds < 30
    assert generation.prompt_tokens is not None
    assert generation.prompt_tokens > 1000
    assert generation.generated_tokens is not None
    assert 0 < generation.generated_tokens <= 24
    identity = backend.identity()
    assert identity["name"] == str(Path(identity["served"][0]))
    assert identity["system_fingerprint"].startswith("0.")  # mlx-lm version first
    assert identity["server_parses_tool_calls"] is True


@pytest.mark.slow
def test_greedy_outputs_equal_the_in_process_mlx_backend(
    server_url: str, model_dir: Path, suite: Suite
) -> None:
    from pytest_codemode_eval.backends.mlx import MlxBackend

    served, local = OpenAIBackend(server_url), MlxBackend(str(model_dir))
    requests = [request_for(case, suite) for case in suite.cases[:8]]
    over_http = [served.generate(request) for request in requests]
    in_process = [local.generate(request) for request in requests]
    assert [g.output for g in over_http] == [g.output for g in in_process]
    assert len({g.output for g in in_process}) >= 6  # not vacuous: the cases answer differently
    assert [g.finish for g in over_http] == [g.finish for g in in_process]
    for remote, here in zip(over_http, in_process, strict=True):
        # the server reports usage only at the end: not when reading stopped at `</tool_call>`
        assert remote.prompt_tokens in (None, here.prompt_tokens)
        assert remote.generated_tokens in (None, here.generated_tokens)


@pytest.mark.slow
def test_a_named_model_must_be_one_the_server_lists(server_url: str, model_dir: Path) -> None:
    assert OpenAIBackend(server_url, api_model=str(model_dir)).model == str(model_dir)
    with pytest.raises(ServerError) as error:
        OpenAIBackend(server_url, api_model="mlx-community/Qwen3-8B-5bit")
    assert str(error.value) == (
        f"model 'mlx-community/Qwen3-8B-5bit' is not served by {server_url} "
        f"(it serves: {model_dir})"
    )


@pytest.mark.slow
def test_evalsuite_end_to_end_prints_the_tables(server_url: str, pytester: pytest.Pytester) -> None:
    shutil.copytree(
        EVALSUITE,
        pytester.path / "evalsuite",
        ignore=shutil.ignore_patterns("workspace", "__pycache__", "replays"),
    )
    result = pytester.runpytest(
        "evalsuite",
        "--codemode-backend=openai",
        f"--codemode-base-url={server_url}",
        "--codemode-max-tokens=8",
        "--codemode-time-budget=3",
        "--codemode-targets=evalsuite/targets.toml",
        "--codemode-results=results.json",
        "-p",
        "no:cacheprovider",
    )
    output = "\n".join(result.outlines)
    assert "codemode eval" in output
    assert "multi_tool" in output  # the category table
    assert "Result: " in output
    results = json.loads((pytester.path / "results.json").read_text())
    assert results["identity"]["backend"] == "openai"
    assert results["identity"]["model"]["base_url"] == server_url
    assert len(results["cases"]) == 27
    assert {case["verdict"] for case in results["cases"]} <= {"prose", "malformed", "timeout"}


def test_a_run_against_no_server_fails_each_case_with_one_line(pytester: pytest.Pytester) -> None:
    shutil.copytree(
        EVALSUITE,
        pytester.path / "evalsuite",
        ignore=shutil.ignore_patterns("workspace", "__pycache__", "replays"),
    )
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = pytester.runpytest(
        "evalsuite", "-m", "git", "--codemode-backend=openai", f"--codemode-base-url={url}"
    )
    result.assert_outcomes(failed=3)
    line = (
        f"backend openai unavailable: ServerError: cannot connect to {url}: "
        "connection refused — is the server running?"
    )
    assert sum(line in text for text in result.outlines) >= 3
    assert "Traceback" not in "\n".join(result.outlines)


# ---------------------------------------------------------------------------------------------
# Choosing the model.


def test_the_only_served_model_is_used_in_every_request(suite: Suite) -> None:
    with fake_server(["only-model"]) as server:
        backend = quick_backend(server)
        backend.generate(request_for(suite.cases[0], suite))
    assert backend.model == "only-model"
    body = server.bodies[0]
    assert body["model"] == "only-model"
    assert body["tools"][0]["function"]["name"] == "execute_code"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["max_tokens"], body["temperature"]) == (24, 0.0)
    assert body["chat_template_kwargs"] == {"enable_thinking": False}  # as the mlx backend
    assert "seed" not in body
    assert "tool_choice" not in body  # unless asked for: vLLM would then need its parser flags


def test_tool_choice_is_sent_when_set(suite: Suite) -> None:
    """vLLM without --enable-auto-tool-choice refuses `tools` unless tool_choice is 'none'."""
    with fake_server(["m"]) as server:
        backend = quick_backend(server, tool_choice="none")
        backend.generate(request_for(suite.cases[0], suite))
    assert server.bodies[0]["tool_choice"] == "none"
    assert server.bodies[0]["tools"][0]["function"]["name"] == "execute_code"
    assert backend.identity()["settings"]["tool_choice"] == "none"


def test_several_served_models_need_a_name() -> None:
    with fake_server(["a", "b"]) as server, pytest.raises(ServerError) as error:
        quick_backend(server)
    assert str(error.value) == (
        f"{server.base_url} serves 2 models (a, b): choose one with --codemode-api-model"
    )


def test_a_named_model_among_several_is_used() -> None:
    with fake_server(["a", "b"]) as server:
        assert quick_backend(server, api_model="b").model == "b"


def test_a_crashed_model_list_names_the_fix() -> None:
    with fake_server(None) as server, pytest.raises(ServerError) as error:
        quick_backend(server)
    assert str(error.value) == (
        f"GET {server.base_url}/models: not an OpenAI model list "
        "(mlx_lm.server: set HF_HUB_CACHE to an existing folder)"
    )


def test_seed_and_api_key_are_sent(suite: Suite) -> None:
    with fake_server() as server:
        backend = quick_backend(server, seed=7, api_key="sk-test")
        case = suite.cases[0]
        backend.generate(build_request(case, suite, Budgets(max_tokens=24, seed=7)))
    # each request carries its own seed, derived from the run's seed, the case and the repeat
    assert server.bodies[0]["seed"] == request_seed(7, suite.cases[0].id, 0)
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    assert "sk-test" not in json.dumps(backend.identity())


# ---------------------------------------------------------------------------------------------
# An unreachable, failing or hung server.


def test_connection_refused_is_a_one_line_error() -> None:
    port = free_port()  # bound and released: nothing listens there
    with pytest.raises(ServerError) as error:
        OpenAIBackend(f"http://127.0.0.1:{port}/v1")
    assert str(error.value) == (
        f"cannot connect to http://127.0.0.1:{port}/v1: connection refused — is the server running?"
    )


def test_a_server_gone_mid_session_is_an_error_verdict(suite: Suite) -> None:
    with fake_server() as server:
        backend = quick_backend(server)
    case = suite.cases[0]
    generation = backend.generate(request_for(case, suite))
    assert generation.finish == "error"
    assert "connection refused" in str(generation.error)
    assert result_from_generation(case, suite, generation).verdict == Verdict.ERROR


def test_503_twice_then_ok_is_retried(suite: Suite) -> None:
    ok = sse(chunk("hello"), chunk(finish="stop"), usage(1200, 2))
    with fake_server(["m"], status(503), status(503), ok) as server:
        generation = quick_backend(server).generate(request_for(suite.cases[0], suite))
    assert len(server.bodies) == 3
    assert (generation.output, generation.finish, generation.error) == ("hello", "stop", None)
    assert (generation.prompt_tokens, generation.generated_tokens) == (1200, 2)


def test_retries_are_bounded_per_case(suite: Suite) -> None:
    with fake_server(["m"], status(503, "overloaded")) as server:
        generation = quick_backend(server, retries=2).generate(request_for(suite.cases[0], suite))
    assert len(server.bodies) == 3
    assert generation.finish == "error"
    assert generation.error == (
        f"POST {server.base_url}/chat/completions: HTTP 503 Service Unavailable: overloaded "
        "(gave up after 3 attempts)"
    )


def test_a_client_error_is_not_retried(suite: Suite) -> None:
    with fake_server(["m"], status(400, "max_tokens must be at least 1")) as server:
        generation = quick_backend(server).generate(request_for(suite.cases[0], suite))
    assert len(server.bodies) == 1
    assert str(generation.error).endswith("must be at least 1")


def test_a_hung_server_is_a_timeout_and_the_next_case_runs(suite: Suite) -> None:
    ok = sse(chunk("next"), chunk(finish="stop"))
    with fake_server(["m"], silence, ok) as server:
        backend = quick_backend(server)
        started = time.perf_counter()
        hung = backend.generate(request_for(suite.cases[0], suite, budget=0.5))
        elapsed = time.perf_counter() - started
        after = backend.generate(request_for(suite.cases[1], suite))
    assert (hung.finish, hung.output) == ("timeout", "")
    assert 0.5 <= elapsed < 1.5
    assert result_from_generation(suite.cases[0], suite, hung).verdict == Verdict.TIMEOUT
    assert (after.finish, after.output) == ("stop", "next")


def test_a_stream_that_stalls_keeps_the_text_so_far(suite: Suite) -> None:
    stalled = sse(chunk("<tool_call>\n"), chunk('{"name": "execute_'), end="hang")
    with fake_server(["m"], stalled) as server:
        started = time.perf_counter()
        generation = quick_backend(server).generate(request_for(suite.cases[0], suite, 0.5))
        elapsed = time.perf_counter() - started
    assert generation.finish == "timeout"
    assert generation.output == '<tool_call>\n{"name": "execute_'
    assert elapsed < 1.5


def test_the_budget_holds_while_chunks_keep_coming(suite: Suite) -> None:
    trickle = sse(*[chunk("x")] * 40, delay=0.05)
    with fake_server(["m"], trickle) as server:
        generation = quick_backend(server).generate(request_for(suite.cases[0], suite, 0.5))
    assert generation.finish == "timeout"
    assert 3 <= len(generation.output) < 40


# ---------------------------------------------------------------------------------------------
# What the stream says: raw text, server-parsed calls, reasoning, finish.


def test_reading_stops_at_the_end_of_the_first_call(suite: Suite) -> None:
    call = '<tool_call>\n{"name": "execute_code", "arguments": {"code": "git_status()"}}\n'
    rambling = sse(chunk(call + "</tool_"), chunk("call>\nmore"), *[chunk("text")] * 10, end="hang")
    with fake_server(["m"], rambling) as server:
        started = time.perf_counter()
        generation = quick_backend(server).generate(request_for(suite.cases[0], suite))
        elapsed = time.perf_counter() - started
    assert generation.output == call + "</tool_call>"
    assert generation.finish == "stop"
    assert elapsed < 2  # not the 30 s budget: the hang comes after the call


def test_tool_calls_without_text_are_scored_from_the_server_parse(suite: Suite) -> None:
    """What mlx_lm.server sends for a call: no text, one complete `tool_calls` delta."""
    parsed = {"function": GIT_STATUS_CALL, "type": "function", "id": "c1", "index": 0}
    reply = sse(chunk(tool_calls=[parsed]), chunk(finish="tool_calls"), usage(1258, 21))
    case = git_status_case(suite)
    with fake_server(["m"], reply) as server:
        backend = quick_backend(server)
        generation = backend.generate(request_for(case, suite))
    assert generation.output == ""  # nothing rebuilt from the server's parse
    assert generation.server_tool_calls[0]["function"] == GIT_STATUS_CALL
    assert (generation.finish, generation.generated_tokens) == ("stop", 21)
    assert parse_output(generation.output, generation.server_tool_calls).calls[0].syntax == "openai"
    assert result_from_generation(case, suite, generation).verdict == Verdict.CODE_MODE
    assert backend.identity()["server_parses_tool_calls"] is True


def test_a_call_the_server_dropped_is_an_error_not_an_empty_answer(suite: Suite) -> None:
    """mlx_lm.server drops a call it cannot parse: no text, no call, finish `tool_calls`."""
    dropped = sse(chunk(), chunk(finish="tool_calls"), usage(1269, 24))
    with fake_server(["m"], dropped) as server:
        generation = quick_backend(server).generate(request_for(suite.cases[0], suite))
    assert (generation.output, generation.finish) == ("", "error")
    result = result_from_generation(suite.cases[0], suite, generation)
    assert result.verdict == Verdict.ERROR
    assert "drops a call it cannot parse" in result.note


def test_streamed_call_fragments_are_merged(suite: Suite) -> None:
    """OpenAI and vLLM stream a call as a name, then argument fragments, keyed by index."""
    arguments = GIT_STATUS_CALL["arguments"]
    head = {"index": 0, "id": "c1", "type": "function"}
    pieces = [
        chunk(tool_calls=[{**head, "function": {"name": "execute_code", "arguments": ""}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": arguments[:9]}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": arguments[9:]}}]),
        chunk(finish="tool_calls"),
    ]
    with fake_server(["m"], sse(*pieces)) as server:
        generation = quick_backend(server).generate(request_for(git_status_case(suite), suite))
    assert generation.server_tool_calls == (
        {"type": "function", "id": "c1", "function": GIT_STATUS_CALL},
    )


def test_reasoning_deltas_come_back_as_think_text(suite: Suite) -> None:
    reply = sse(chunk(reasoning="which tool?"), chunk(content="Use git."), chunk(finish="stop"))
    with fake_server(["m"], reply) as server:
        generation = quick_backend(server).generate(request_for(suite.cases[0], suite))
    assert generation.output == "<think>which tool?</think>Use git."
    parsed = parse_output(generation.output)
    assert (parsed.think, parsed.prose) == ("which tool?", "Use git.")


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("stop", "stop"), ("length", "length"), ("content_filter", "error")],
)
def test_finish_reasons_map_to_ours(suite: Suite, reason: str, finish: str) -> None:
    with fake_server(["m"], sse(chunk("text"), chunk(finish=reason))) as server:
        generation = quick_backend(server).generate(request_for(suite.cases[0], suite))
    assert generation.finish == finish
    assert (generation.error is None) == (finish != "error")


def test_a_stream_cut_before_finishing_is_retried(suite: Suite) -> None:
    died = sse(chunk("half"), end="close")
    with fake_server(["m"], died, sse(chunk("whole"), chunk(finish="stop"))) as server:
        generation = quick_backend(server).generate(request_for(suite.cases[0], suite))
    assert len(server.bodies) == 2
    assert generation.output == "whole"


def test_batch_size_keeps_that_many_requests_in_flight(suite: Suite) -> None:
    """Each reply waits until three requests are open at once: only concurrent sending passes."""
    import threading

    together = threading.Barrier(3)

    def when_three_are_open(handler: Any) -> None:
        try:
            together.wait(timeout=5)
        except threading.BrokenBarrierError:
            return status(400, "requests arrived one at a time")(handler)
        sse(chunk("hi", finish="stop"))(handler)

    requests = [request_for(case, suite) for case in suite.cases[:6]]
    with fake_server(["m"], when_three_are_open) as server:
        backend = quick_backend(server, concurrency=3)
        streamed = dict(backend.generate_stream(requests))
    assert sorted(streamed) == list(range(6))
    assert [streamed[i].output for i in range(6)] == ["hi"] * 6
    assert backend.identity()["settings"]["concurrency"] == 3


def test_a_hung_request_in_flight_does_not_hold_up_the_others(suite: Suite) -> None:
    ok = sse(chunk("next"), chunk(finish="stop"))
    with fake_server(["m"], silence, ok) as server:
        backend = quick_backend(server, concurrency=2)
        requests = [request_for(case, suite, budget=1.0) for case in suite.cases[:4]]
        order = list(backend.generate_stream(requests))
    finishes = sorted(g.finish for _, g in order)
    assert finishes == ["stop", "stop", "stop", "timeout"]
    assert order[-1][1].finish == "timeout"  # the three others came back first


@pytest.mark.slow
def test_requests_in_flight_together_give_the_one_by_one_outputs(
    server_url: str, suite: Suite
) -> None:
    requests = [request_for(case, suite) for case in suite.cases[:8]]
    one_by_one = [OpenAIBackend(server_url).generate(request) for request in requests]
    together = dict(OpenAIBackend(server_url, concurrency=4).generate_stream(requests))
    assert [together[i].output for i in range(8)] == [g.output for g in one_by_one]


def test_a_request_that_raises_is_an_error_and_the_stream_goes_on(
    suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_server(["m"]) as server:
        backend = quick_backend(server, concurrency=2)
        generate = backend.generate

        def odd(request: GenerationRequest) -> Any:
            if request.case_id == suite.cases[1].id:
                raise ValueError("unexpected payload")
            return generate(request)

        monkeypatch.setattr(backend, "generate", odd)
        requests = [request_for(case, suite) for case in suite.cases[:3]]
        streamed = dict(backend.generate_stream(requests))
    assert (streamed[1].finish, streamed[1].error) == ("error", "ValueError: unexpected payload")
    assert streamed[0].output == streamed[2].output == "hi"
