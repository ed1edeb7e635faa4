"""Offline model building: what a user of ``init-model`` relies on when loading and prompting it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from syrupy.assertion import SnapshotAssertion

from codemode_trainer.chat.templates import CallSyntax, detect_call_syntax, normalize_messages
from codemode_trainer.cli import main
from codemode_trainer.training import _mlx
from codemode_trainer.training.init_model import PRESETS, InitModelError, init_model

CORPUS = ["What is the weather in Berlin?", "Read the file notes.txt and summarise it."]
SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tool_call>",
    "</tool_call>",
    "<think>",
    "</think>",
    "<tool_response>",
    "</tool_response>",
]
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "days": {"type": "integer"},
                },
                "required": ["city"],
            },
        },
    },
    {"type": "function", "function": {"name": "list_files", "description": "List files."}},
]
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You route requests to tools."},
    {"role": "user", "content": "Weather in Berlin and my files?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"city": "Berlin", "days": 2}},
            },
            {"type": "function", "function": {"name": "list_files", "arguments": "{}"}},
        ],
    },
    {"role": "tool", "content": '{"temp_c": 21}'},
    {"role": "tool", "content": '["a.txt", "b.txt"]'},
    {"role": "assistant", "content": "Sunny, 21 °C. Files: a.txt, b.txt."},
    {"role": "user", "content": "Thanks!"},
]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        syntax: init_model(root / syntax, "tiny", corpus=CORPUS, call_syntax=syntax)
        for syntax in ("json", "xml")
    }


def hf_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def render(path: Path, messages: list[dict[str, Any]], **kwargs: Any) -> str:
    text: str = hf_tokenizer(path).apply_chat_template(
        messages, tools=TOOLS, add_generation_prompt=True, tokenize=False, **kwargs
    )
    return text


def test_tiny_has_about_half_a_million_params(tmp_path: Path) -> None:
    out = init_model(tmp_path / "m", "tiny", corpus=CORPUS)
    assert 400_000 <= _mlx.count_parameters(out) <= 700_000
    config = json.loads((out / "config.json").read_text())
    assert (config["model_type"], config["torch_dtype"], config["hidden_size"]) == (
        "qwen3",
        "float32",
        128,
    )


@pytest.mark.parametrize("preset", ["tiny", "tiny-moe"])
def test_model_loads_and_generates_for_a_chat_prompt(tmp_path: Path, preset: str) -> None:
    import mlx_lm

    out = init_model(tmp_path / preset, preset, corpus=CORPUS)
    loaded = mlx_lm.load(str(out))
    model, tokenizer = loaded[0], cast(Any, loaded[1])
    prompt = tokenizer.apply_chat_template(
        CONVERSATION[:2], tools=TOOLS, add_generation_prompt=True, enable_thinking=False
    )
    text = mlx_lm.generate(model, tokenizer, prompt, max_tokens=6)
    assert isinstance(text, str)
    assert text
    eos = json.loads((out / "generation_config.json").read_text())["eos_token_id"]
    assert tokenizer.eos_token_ids == set(eos)
    assert tokenizer.eos_token_ids == {
        tokenizer.convert_tokens_to_ids("<|im_end|>"),
        tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    }


def test_moe_preset_has_experts(tmp_path: Path) -> None:
    out = init_model(tmp_path / "moe", "tiny-moe", corpus=CORPUS)
    config = json.loads((out / "config.json").read_text())
    assert (config["model_type"], config["num_experts"], config["num_experts_per_tok"]) == (
        "qwen3_moe",
        8,
        2,
    )


def test_special_tokens_are_single_ids(models: dict[str, Path]) -> None:
    tok = hf_tokenizer(models["json"])
    for special in SPECIALS:
        assert len(tok.encode(special, add_special_tokens=False)) == 1, special
    ids = tok.encode("<|im_start|>assistant\n<tool_call>", add_special_tokens=False)
    assert ids[0] == tok.convert_tokens_to_ids("<|im_start|>")
    assert ids[-1] == tok.convert_tokens_to_ids("<tool_call>")
    assert (tok.eos_token, tok.pad_token, tok.bos_token) == ("<|im_end|>", "<|endoftext|>", None)


@pytest.fixture(scope="module")
def json_tokenizer(models: dict[str, Path]) -> Any:
    return hf_tokenizer(models["json"])


@settings(max_examples=150, deadline=None)
@given(text=st.text() | st.sampled_from(["e\u0301 日本語 🤖\r\n\t", "<think>x</think>  \n"]))
def test_decode_encode_round_trips_any_text(json_tokenizer: Any, text: str) -> None:
    ids = json_tokenizer.encode(text, add_special_tokens=False)
    assert json_tokenizer.decode(ids) == text


@pytest.mark.parametrize("syntax", ["json", "xml"])
def test_rendered_conversation_matches_snapshot(
    models: dict[str, Path], syntax: CallSyntax, snapshot: SnapshotAssertion
) -> None:
    assert (
        render(models[syntax], normalize_messages(CONVERSATION), enable_thinking=False) == snapshot
    )


def test_json_template_renders_qwen3_tool_calls_and_thinking(models: dict[str, Path]) -> None:
    text = render(models["json"], CONVERSATION[:3], enable_thinking=False)
    assert "<tools>\n" + json.dumps(TOOLS[0]) + "\n" + json.dumps(TOOLS[1]) + "\n</tools>" in text
    assert (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Berlin", "days": 2}}\n' in text
    )
    assert '<tool_call>\n{"name": "list_files", "arguments": {}}\n</tool_call>' in text
    assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    thinking = render(models["json"], CONVERSATION[:2], enable_thinking=True)
    assert thinking.endswith("<|im_start|>assistant\n")
    assert detect_call_syntax(hf_tokenizer(models["json"]).chat_template) == "json"


def test_xml_template_renders_qwen3_coder_calls(models: dict[str, Path]) -> None:
    text = render(models["xml"], normalize_messages(CONVERSATION[:3]), enable_thinking=False)
    assert "<function>\n<name>get_weather</name>\n<description>Current weather" in text
    call = "<function=get_weather>\n<parameter=city>\nBerlin\n</parameter>\n<parameter=days>\n2\n"
    assert "<tool_call>\n" + call + "</parameter>\n</function>\n</tool_call>" in text
    assert "<tool_call>\n<function=list_files>\n</function>\n</tool_call><|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")
    assert "<think>" not in text
    assert detect_call_syntax(hf_tokenizer(models["xml"]).chat_template) == "xml"


def test_xml_template_asks_for_parsed_string_arguments(models: dict[str, Path]) -> None:
    with pytest.raises(Exception, match="normalize_messages"):
        render(models["xml"], CONVERSATION[:3])


@pytest.mark.parametrize("syntax", ["json", "xml"])
def test_consecutive_tool_results_share_one_user_turn(
    models: dict[str, Path], syntax: CallSyntax
) -> None:
    text = render(models[syntax], normalize_messages(CONVERSATION[:5]))
    turn = text.split("</tool_call><|im_end|>\n")[-1]
    assert turn.startswith("<|im_start|>user\n")
    assert turn.count("<tool_response>\n") == 2
    assert turn.count("<|im_start|>") == 2  # the tool turn, then the generation prompt


def test_mlx_lm_picks_the_matching_tool_parser(models: dict[str, Path]) -> None:
    from mlx_lm.tokenizer_utils import load

    parsers = {s: load(models[s]).tool_parser.__module__.rsplit(".", 1)[-1] for s in models}
    assert parsers == {"json": "json_tools", "xml": "qwen3_coder"}


def test_same_seed_gives_identical_files_and_other_seed_other_weights(tmp_path: Path) -> None:
    a = init_model(tmp_path / "a", corpus=CORPUS, seed=1)
    b = init_model(tmp_path / "b", corpus=CORPUS, seed=1)
    c = init_model(tmp_path / "c", corpus=CORPUS, seed=2)
    for name in sorted(p.name for p in a.iterdir()):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    weights = "model.safetensors"
    assert (a / weights).read_bytes() != (c / weights).read_bytes()
    assert (a / "tokenizer.json").read_bytes() == (c / "tokenizer.json").read_bytes()


def test_refuses_non_empty_out_unless_overwrite(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(InitModelError, match="not empty"):
        init_model(tmp_path, corpus=CORPUS)
    assert (tmp_path / "keep.txt").exists()
    init_model(tmp_path, corpus=CORPUS, overwrite=True)
    assert not (tmp_path / "keep.txt").exists()
    assert (tmp_path / "model.safetensors").exists()


def test_unknown_preset_lists_the_presets(tmp_path: Path) -> None:
    with pytest.raises(InitModelError) as info:
        init_model(tmp_path / "m", "huge", corpus=CORPUS)
    assert all(name in str(info.value) for name in PRESETS)
    assert not (tmp_path / "m").exists()


def test_cli_writes_a_model_from_corpus_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "prompts.txt"
    corpus.write_text("\n".join(CORPUS), encoding="utf-8")
    out = tmp_path / "model"
    argv = ["init-model", "--preset", "tiny", "--call-syntax", "xml", "--seed", "3"]
    assert main([*argv, "--corpus", str(corpus), str(corpus), str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    template = json.loads((out / "tokenizer_config.json").read_text())["chat_template"]
    assert detect_call_syntax(template) == "xml"


def test_cli_rejects_non_empty_out_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x").write_text("")
    assert main(["init-model", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "not empty" in err
    assert "--force" in err
