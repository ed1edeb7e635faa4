"""Write a random-initialised Qwen3-style model directory that ``mlx_lm.load`` opens offline.

Tests and benchmarks need real models without a model hub: a tokenizer trained on the prompts
they will see, a Qwen-like chat template and seeded float32 weights (fp16 is slow on CPU).
Same seed and corpus give byte-identical files, so runs built on these models are repeatable.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemode_trainer.chat.templates import TEMPLATE_TEXTS, CallSyntax, chat_template
from codemode_trainer.chat.tokenizer import special_token_ids, train_tokenizer, write_tokenizer
from codemode_trainer.errors import TrainerError
from codemode_trainer.files import write_json_atomic
from codemode_trainer.training import _mlx


class InitModelError(TrainerError, ValueError):
    """A user-facing problem with the requested model (bad preset, occupied directory)."""


@dataclass(frozen=True)
class Preset:
    """Architecture of one model size; ``vocab_size`` is a target the corpus may not reach."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool = True
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    max_position_embeddings: int = 8192

    @property
    def model_type(self) -> str:
        return "qwen3_moe" if self.num_experts else "qwen3"


PRESETS: dict[str, Preset] = {
    # The size that learns tool routing in under a minute on a CPU (~0.5 M params).
    "tiny": Preset(128, 2, 4, 2, 32, 384, vocab_size=1024),
    # Big enough that prefill time and KV-cache reuse show up in benchmarks (~34 M params).
    "small": Preset(512, 8, 8, 4, 64, 2048, vocab_size=4096),
    # Exercises mlx-lm's MoE code paths (SwitchGLU, gather_mm) at tiny cost.
    "tiny-moe": Preset(
        128, 2, 4, 2, 32, 384, vocab_size=1024, num_experts=8, num_experts_per_tok=2,
        moe_intermediate_size=128,
    ),
}  # fmt: skip


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise InitModelError(f"unknown preset {name!r}; choose one of: {known}") from None


def model_config(preset: Preset, vocab_size: int, ids: dict[str, int]) -> dict[str, Any]:
    """``config.json`` in the Hugging Face Qwen3 / Qwen3-MoE layout."""
    eos = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    config: dict[str, Any] = {
        "architectures": ["Qwen3MoeForCausalLM" if preset.num_experts else "Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": ids["<|endoftext|>"],
        "dtype": "float32",
        "eos_token_id": eos,
        "head_dim": preset.head_dim,
        "hidden_act": "silu",
        "hidden_size": preset.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": preset.intermediate_size,
        "max_position_embeddings": preset.max_position_embeddings,
        "max_window_layers": preset.num_hidden_layers,
        "model_type": preset.model_type,
        "num_attention_heads": preset.num_attention_heads,
        "num_hidden_layers": preset.num_hidden_layers,
        "num_key_value_heads": preset.num_key_value_heads,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": None,
        "tie_word_embeddings": preset.tie_word_embeddings,
        "torch_dtype": "float32",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab_size,
    }
    if preset.num_experts:
        config |= {
            "decoder_sparse_step": 1,
            "mlp_only_layers": [],
            "moe_intermediate_size": preset.moe_intermediate_size,
            "norm_topk_prob": True,
            "num_experts": preset.num_experts,
            "num_experts_per_tok": preset.num_experts_per_tok,
            "output_router_logits": False,
            "router_aux_loss_coef": 0.001,
        }
    return config


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InitModelError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InitModelError(f"{out} is not empty; pass overwrite=True (--force) to replace it")


def init_model(
    out: Path,
    preset: str = "tiny",
    *,
    corpus: Iterable[str] = (),
    call_syntax: CallSyntax = "json",
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Build the model in a scratch directory beside ``out``, then move it into place.

    Building aside means a failure never leaves a half-written model where a loader looks.
    """
    out = Path(out)
    spec = get_preset(preset)
    template = chat_template(call_syntax)
    _check_out(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tok = train_tokenizer([*corpus, *TEMPLATE_TEXTS], spec.vocab_size)
        ids = special_token_ids(tok)
        write_tokenizer(tok, scratch, template)
        config = model_config(spec, tok.get_vocab_size(), ids)
        write_json_atomic(scratch / "config.json", config)
        generation = {
            "bos_token_id": config["bos_token_id"],
            "eos_token_id": config["eos_token_id"],
        }
        write_json_atomic(scratch / "generation_config.json", generation)
        _mlx.save_random_weights(config, scratch / "model.safetensors", seed)
        if out.exists():
            shutil.rmtree(out)
        scratch.rename(out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return out
