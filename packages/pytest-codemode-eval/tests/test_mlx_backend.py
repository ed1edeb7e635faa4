"""The in-process mlx backend on an offline model built by the trainer (no download).

A freshly initialised model greedily repeats one token, which would make "outputs are identical"
checks vacuous, so the fixture sharpens the random weights until every case gets its own
distinct greedy output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_codemode_eval.evaluate import Budgets, build_request
from pytest_codemode_eval.generation import GenerationRequest
from pytest_codemode_eval.suite import Suite

mlx_backend = pytest.importorskip("pytest_codemode_eval.backends.mlx")


@pytest.fixture(scope="module")
def model_dir(sharp_model_dir: Path) -> Path:
    return sharp_model_dir


@pytest.fixture(scope="module")
def requests(suite: Suite) -> list[GenerationRequest]:
    return [build_request(case, suite, Budgets(max_tokens=24)) for case in suite.cases[:8]]


def test_greedy_outputs_differ_between_cases(
    model_dir: Path, requests: list[GenerationRequest]
) -> None:
    backend = mlx_backend.MlxBackend(str(model_dir))
    outputs = [backend.generate(request).output for request in requests]
    assert len(set(outputs)) >= len(outputs) - 2, "fixture model too flat for identity checks"


def test_prefix_cache_gives_the_same_outputs_as_no_cache(
    model_dir: Path, requests: list[GenerationRequest]
) -> None:
    cached = mlx_backend.MlxBackend(str(model_dir))
    uncached = mlx_backend.MlxBackend(str(model_dir), prefix_cache=False)
    with_cache = [cached.generate(request) for request in requests]
    without = [uncached.generate(request) for request in requests]
    assert [g.output for g in with_cache] == [g.output for g in without]
    assert len(cached.prefix.ids) > 500  # the system prompt and tool stubs really are cached
    assert [g.prompt_tokens for g in with_cache] == [g.prompt_tokens for g in without]


def test_sampling_with_a_seed_is_reproducible_and_cache_independent(
    model_dir: Path, requests: list[GenerationRequest]
) -> None:
    a = mlx_backend.MlxBackend(str(model_dir), temperature=1.0, seed=11)
    b = mlx_backend.MlxBackend(str(model_dir), temperature=1.0, seed=11, prefix_cache=False)
    assert [a.generate(r).output for r in requests] == [b.generate(r).output for r in requests]


def test_batched_greedy_outputs_equal_one_by_one(
    model_dir: Path, requests: list[GenerationRequest]
) -> None:
    backend = mlx_backend.MlxBackend(str(model_dir))
    one_by_one = [backend.generate(request) for request in requests]
    batched = backend.generate_many(requests)
    assert [g.output for g in batched] == [g.output for g in one_by_one]
    assert [g.finish for g in batched] == [g.finish for g in one_by_one]
    assert [g.generated_tokens for g in batched] == [g.generated_tokens for g in one_by_one]
    assert "length" in {g.finish for g in batched}


def test_token_budget_and_time_budget_become_finish_reasons(model_dir: Path, suite: Suite) -> None:
    backend = mlx_backend.MlxBackend(str(model_dir))
    long_runners = [
        case
        for case in suite.cases[:8]
        if backend.generate(build_request(case, suite, Budgets(max_tokens=24))).finish == "length"
    ]
    case = long_runners[0]
    short = backend.generate(build_request(case, suite, Budgets(max_tokens=5)))
    assert (short.finish, short.generated_tokens) == ("length", 5)
    hurried = backend.generate(
        build_request(case, suite, Budgets(max_tokens=400, time_budget=1e-6))
    )
    assert hurried.finish == "timeout"
    assert hurried.generated_tokens is not None
    assert hurried.generated_tokens < 400
    batched = backend.generate_many([build_request(case, suite, Budgets(400, 1e-6))])
    assert batched[0].finish == "timeout"


def test_identity_names_the_files_measured(model_dir: Path) -> None:
    identity = mlx_backend.MlxBackend(str(model_dir)).identity()
    assert identity["path"] == str(model_dir.resolve())
    assert len(identity["fingerprint"]) == 16
    assert identity["mlx"]
    assert identity["mlx_lm"]
    assert identity["settings"]["temperature"] == 0.0


def test_identity_fingerprint_changes_with_the_weights(model_dir: Path, tmp_path: Path) -> None:
    import shutil

    from pytest_codemode_eval.identity import fingerprint_directory

    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    assert fingerprint_directory(copy) == fingerprint_directory(model_dir)
    (copy / "model.safetensors").write_bytes(
        (copy / "model.safetensors").read_bytes()[:-4] + b"\0\0\0\0"
    )
    assert fingerprint_directory(copy) != fingerprint_directory(model_dir)


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(mlx_backend.ModelNotFound, match="model folder not found"):
        mlx_backend.MlxBackend(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(mlx_backend.ModelNotFound, match=r"no config\.json"):
        mlx_backend.MlxBackend(str(tmp_path / "empty"))


def test_fewer_rows_than_cases_refills_the_batch_and_equals_one_by_one(
    model_dir: Path, suite: Suite
) -> None:
    """Budgets of 3..24 tokens make rows finish at different steps, so waiting cases join a
    running batch; each output is still the one-by-one output."""
    requests = [
        build_request(case, suite, Budgets(max_tokens=3 + 3 * (i % 8)))
        for i, case in enumerate(suite.cases[:10])
    ]
    backend = mlx_backend.MlxBackend(str(model_dir), batch_size=3)
    one_by_one = [backend.generate(request) for request in requests]
    order = [index for index, _ in backend.generate_stream(requests)]
    assert sorted(order) == list(range(len(requests)))
    assert order != sorted(order), "rows should finish out of order (continuous batching)"
    batched = backend.generate_many(requests)
    assert [g.output for g in batched] == [g.output for g in one_by_one]
    assert [g.finish for g in batched] == [g.finish for g in one_by_one]
    assert [g.generated_tokens for g in batched] == [g.generated_tokens for g in one_by_one]


def test_batching_without_a_prefix_cache_copies_per_row_and_equals_one_by_one(
    model_dir: Path, requests: list[GenerationRequest]
) -> None:
    backend = mlx_backend.MlxBackend(str(model_dir), batch_size=3, prefix_cache=False)
    one_by_one = [backend.generate(request) for request in requests]
    batched = backend.generate_many(requests)
    assert [g.output for g in batched] == [g.output for g in one_by_one]
    assert [g.generated_tokens for g in batched] == [g.generated_tokens for g in one_by_one]


def test_a_waiting_case_is_timed_from_when_it_joins(model_dir: Path, suite: Suite) -> None:
    """One row at a time, a clock that moves 1 s per reading: the second case waits ~30 s
    behind the first, yet with a 10 s budget it still decodes (its clock starts on joining)."""
    from pytest_codemode_eval.backends.mlx.decode import Stops, decode
    from pytest_codemode_eval.backends.mlx.rows import Row, SharedRows

    backend = mlx_backend.MlxBackend(str(model_dir))
    requests = [build_request(case, suite, Budgets(max_tokens=12)) for case in suite.cases[:2]]
    prompts = [backend.prompt_ids(request) for request in requests]
    backend.prefix.warm(prompts)
    prefix = len(backend.prefix.ids)
    ticks = iter(range(10_000))
    rows = [
        Row(0, prompts[0][prefix:], 30, 1e9, prefixed=True),
        Row(1, prompts[1][prefix:], 30, 10.0, prefixed=True),
    ]
    done = {
        d.key: d
        for d in decode(
            SharedRows(backend.model, backend.prefix.cache),
            rows,
            max_rows=1,
            sampler=lambda logprobs: logprobs.argmax(axis=-1),
            stops=Stops(frozenset(), "", backend._new_detokenizer),
            clock=lambda: float(next(ticks)),
        )
    }
    assert (done[0].finish, len(done[0].tokens)) == ("length", 30)
    assert done[1].finish == "timeout"
    assert 3 <= len(done[1].tokens) <= 12


def test_a_bfloat16_model_batches_with_prefix_copies_and_equals_one_by_one(
    model_dir: Path, suite: Suite, tmp_path: Path
) -> None:
    """The split attention is exact only in float32 (in bf16 it changed 16 of 27 greedy
    outputs of a random tiny model), so a bf16 model batches through mlx-lm's BatchGenerator
    with a prefix copy per row, still continuously (rows join as others finish)."""
    import json
    import shutil

    import mlx.core as mx

    from pytest_codemode_eval.backends.mlx.shared_prefix import supports_shared_prefix

    half = tmp_path / "bf16"
    shutil.copytree(model_dir, half)
    weights = mx.load(str(half / "model.safetensors"))
    assert isinstance(weights, dict)
    mx.save_safetensors(
        str(half / "model.safetensors"), {k: v.astype(mx.bfloat16) for k, v in weights.items()}
    )
    config = json.loads((half / "config.json").read_text())
    (half / "config.json").write_text(json.dumps({**config, "torch_dtype": "bfloat16"}))
    requests = [
        build_request(case, suite, Budgets(max_tokens=3 + 3 * (i % 8)))
        for i, case in enumerate(suite.cases[:10])
    ]
    backend = mlx_backend.MlxBackend(str(half), batch_size=3)
    one_by_one = [backend.generate(request) for request in requests]
    assert backend.prefix.cache is not None
    assert not supports_shared_prefix(backend.model, backend.prefix.cache)
    streamed = list(backend.generate_stream(requests))
    order = [index for index, _ in streamed]
    assert order != sorted(order), "rows should finish out of order (continuous batching)"
    batched = dict(streamed)
    assert [batched[i].output for i in range(10)] == [g.output for g in one_by_one]
    assert [batched[i].generated_tokens for i in range(10)] == [
        g.generated_tokens for g in one_by_one
    ]


def test_time_spent_between_pulls_is_no_rows_time(model_dir: Path, suite: Suite) -> None:
    """The caller (pytest reporting a case, a debugger) pauses the stream for 1,000 s of a fake
    clock after the first result; the rows still decoding must not time out for it."""
    from pytest_codemode_eval.backends.mlx.decode import Stops, decode
    from pytest_codemode_eval.backends.mlx.rows import Row, SharedRows

    backend = mlx_backend.MlxBackend(str(model_dir))
    requests = [build_request(case, suite, Budgets(max_tokens=12)) for case in suite.cases[:3]]
    prompts = [backend.prompt_ids(request) for request in requests]
    backend.prefix.warm(prompts)
    prefix = len(backend.prefix.ids)
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    rows = [
        Row(i, ids[prefix:], 3 if i == 0 else 12, 100.0, prefixed=True)
        for i, ids in enumerate(prompts)
    ]
    stream = decode(
        SharedRows(backend.model, backend.prefix.cache), rows, max_rows=3,
        sampler=lambda logprobs: logprobs.argmax(axis=-1),
        stops=Stops(frozenset(), "", backend._new_detokenizer), clock=clock,
    )  # fmt: skip
    first = next(stream)
    assert (first.key, first.finish) == (0, "length")
    now[0] += 1000.0
    rest = {d.key: d for d in stream}
    assert {key: d.finish for key, d in rest.items()} == {1: "length", 2: "length"}
    assert all(d.seconds < 100 for d in rest.values())


def test_the_end_of_a_call_spelled_in_pieces_stops_a_row(model_dir: Path) -> None:
    """One by one stops when the text holds `</tool_call>`, whatever tokens spelled it; a batched
    row must stop at the same token."""
    from pytest_codemode_eval.backends.mlx.decode import Active, Stops
    from pytest_codemode_eval.backends.mlx.rows import Row

    backend = mlx_backend.MlxBackend(str(model_dir))
    encode = backend.tokenizer.encode
    pieces = [
        *encode("x </tool", add_special_tokens=False),
        *encode("_call>", add_special_tokens=False),
    ]
    special = encode("</tool_call>", add_special_tokens=False)
    assert len(special) == 1
    assert special[0] not in pieces  # really spelled another way
    stops = Stops(
        frozenset(backend.tokenizer.eos_token_ids), "</tool_call>", backend._new_detokenizer
    )
    row = Active(Row(0, [1], 100, 100.0), 0.0, backend._new_detokenizer())
    reasons = []
    for token in [*pieces, *encode(" y", add_special_tokens=False)]:
        row.tokens.append(token)
        reasons.append(stops.reason(row, 0.0))
    stop_at = reasons.index("stop")
    assert stop_at >= len(pieces) - 1
    assert stops.text(row).endswith("</tool_call>")  # and nothing after it


def test_no_requests_no_generations(model_dir: Path) -> None:
    assert mlx_backend.MlxBackend(str(model_dir), batch_size=4).generate_many([]) == []


def test_copied_rows_finishing_together_are_timed_before_any_pause(
    model_dir: Path, suite: Suite
) -> None:
    """Three rows end on the same step; the caller pauses 1,000 s (fake clock) after each pull.
    The rows already finished keep their own seconds (none goes negative)."""
    from pytest_codemode_eval.backends.mlx.decode import Stops, decode
    from pytest_codemode_eval.backends.mlx.rows import CopiedRows, Row

    backend = mlx_backend.MlxBackend(str(model_dir))
    requests = [build_request(case, suite, Budgets(max_tokens=3)) for case in suite.cases[:3]]
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    prompts = [backend.prompt_ids(request) for request in requests]
    backend.prefix.warm(prompts)
    rows = []
    for i, ids in enumerate(prompts):
        prefixed, rest = backend.prefix.split(ids)
        rows.append(Row(i, rest, 3, 1e9, prefixed))
    seconds = []
    for decoded in decode(
        CopiedRows(backend.model, backend.prefix.cache), rows, max_rows=3,
        sampler=lambda logprobs: logprobs.argmax(axis=-1),
        stops=Stops(frozenset(), "", backend._new_detokenizer), clock=clock,
    ):  # fmt: skip
        seconds.append(decoded.seconds)
        now[0] += 1000.0
    assert len(seconds) == 3
    assert all(0 < s < 100 for s in seconds)


def test_a_copied_row_joining_late_gets_a_token_before_its_time_is_checked(
    model_dir: Path, suite: Suite
) -> None:
    """As one by one: a row over its time budget still ends with one token, not none."""
    from pytest_codemode_eval.backends.mlx.decode import Stops, decode
    from pytest_codemode_eval.backends.mlx.rows import CopiedRows, Row

    backend = mlx_backend.MlxBackend(str(model_dir), prefix_cache=False)
    requests = [build_request(case, suite, Budgets(max_tokens=12)) for case in suite.cases[:3]]
    budgets = [(2, 1e9), (12, 1e9), (12, 1e-6)]  # row 2 joins when row 0 leaves
    rows = []
    for i, (request, (tokens, budget)) in enumerate(zip(requests, budgets, strict=True)):
        rows.append(Row(i, backend.prompt_ids(request), tokens, budget))
    done = {
        d.key: d
        for d in decode(
            CopiedRows(backend.model, None),
            rows,
            max_rows=2,
            sampler=lambda logprobs: logprobs.argmax(axis=-1),
            stops=Stops(frozenset(), "", backend._new_detokenizer),
        )
    }
    assert (done[2].finish, len(done[2].tokens)) == ("timeout", 1)


def test_prompt_ids_are_the_rendered_prompt_text(
    model_dir: Path, requests: list[GenerationRequest]
) -> None:
    """Evaluation's token ids and the text preflight compares come from one rendering."""
    from mlx_lm.utils import load_tokenizer

    from pytest_codemode_eval.chat_template import prompt_token_ids, render_chat

    tokenizer = load_tokenizer(model_dir)
    request = requests[0]
    text = render_chat(
        tokenizer,
        request.messages,
        request.tools,
        add_generation_prompt=True,
        enable_thinking=False,
    )
    assert request.messages[-1]["content"] in text
    assert text.endswith("<think>\n\n</think>\n\n")
    ids = prompt_token_ids(tokenizer, request.messages, request.tools)
    assert ids == tokenizer.encode(text, add_special_tokens=False)
    empty = render_chat(tokenizer, request.messages, [], add_generation_prompt=True)
    assert empty == render_chat(tokenizer, request.messages, None, add_generation_prompt=True)
