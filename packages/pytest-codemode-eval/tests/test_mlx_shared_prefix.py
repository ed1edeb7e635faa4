"""Attention over a prefix stored once equals attention over each row's own full copy."""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_codemode_eval.backends.mlx")  # chooses the BLAS before mlx loads
import mlx.core as mx

from pytest_codemode_eval.backends.mlx import shared_prefix as shared


def full_attention(q: mx.array, keys: mx.array, values: mx.array, mask: mx.array) -> mx.array:
    return mx.fast.scaled_dot_product_attention(q, keys, values, scale=0.125, mask=mask)


def test_split_attention_equals_attention_over_prefix_plus_own_tokens() -> None:
    mx.random.seed(0)
    prefix_len, kv_heads, heads, dim = 37, 2, 4, 16
    prefix_k = mx.random.normal((1, kv_heads, prefix_len, dim))
    prefix_v = mx.random.normal((1, kv_heads, prefix_len, dim))
    own_lengths = [5, 2, 4]
    width = max(own_lengths)
    cache = shared.SharedPrefixCache(prefix_k, prefix_v, rows=3)
    cache.pad_left([width - n for n in own_lengths])
    own_k = mx.random.normal((3, kv_heads, width, dim))
    own_v = mx.random.normal((3, kv_heads, width, dim))
    q = mx.random.normal((3, heads, width, dim))
    keys, values = cache.update_and_fetch(own_k, own_v)
    out = cache.attend(q, keys, values, 0.125)
    for row, n in enumerate(own_lengths):
        pad = width - n
        k = mx.concatenate([prefix_k[0], own_k[row, :, pad:]], axis=1)[None]
        v = mx.concatenate([prefix_v[0], own_v[row, :, pad:]], axis=1)[None]
        causal = mx.arange(prefix_len + n)[None, :] <= (prefix_len + mx.arange(n))[:, None]
        expected = full_attention(q[row : row + 1, :, pad:], k, v, causal)
        assert mx.allclose(out[row : row + 1, :, pad:], expected, atol=1e-5).item()
    assert cache.offset.tolist() == [prefix_len + n for n in own_lengths]


def test_rows_leave_join_and_end_as_a_plain_cache() -> None:
    mx.random.seed(1)
    prefix_k, prefix_v = mx.random.normal((1, 2, 8, 4)), mx.random.normal((1, 2, 8, 4))
    first = shared.SharedPrefixCache(prefix_k, prefix_v, rows=2)
    first.pad_left([2, 0])
    first.update_and_fetch(mx.random.normal((2, 2, 3, 4)), mx.random.normal((2, 2, 3, 4)))
    row0_k = first.keys[0, :, 2:3]
    first.keep([0])  # row 1 finished; row 0's two padding columns are dropped
    assert (first.used, first.left_padding.tolist()) == (1, [0])
    second = shared.SharedPrefixCache(prefix_k, prefix_v, rows=1)
    second.update_and_fetch(mx.random.normal((1, 2, 4, 4)), mx.random.normal((1, 2, 4, 4)))
    first.extend(second)
    assert (first.rows, first.used, first.left_padding.tolist()) == (2, 4, [3, 0])
    assert first.offset.tolist() == [9, 12]
    first.keep([0])
    plain = first.plain()
    assert plain.offset == 9
    assert mx.array_equal(plain.keys[0, :, :8], prefix_k[0]).item()
    assert mx.array_equal(plain.keys[0, :, 8:9], row0_k).item()


def test_only_the_model_set_up_is_routed_and_other_caches_reach_the_original(
    sharp_model_dir: object,
) -> None:
    """The split attention is scoped to the model it was set up for: mlx-lm's module keeps its
    attention, and another model loaded in the same process attends as a fresh one does."""
    import importlib

    from mlx_lm import load
    from mlx_lm.models import base
    from mlx_lm.models.cache import make_prompt_cache

    model, _ = load(str(sharp_model_dir))
    other, _ = load(str(sharp_model_dir))
    module = importlib.import_module(type(model).__module__)
    tokens = mx.array([[5, 6, 7, 8, 9]])
    prefix = make_prompt_cache(model)
    model(tokens[:, :2], cache=prefix)
    before = other(tokens[:, 2:], cache=shared.shared_prefix_caches(prefix, rows=1))
    assert shared.supports_shared_prefix(model, prefix)
    routed = type(model.layers[0].self_attn)
    assert shared.supports_shared_prefix(model, prefix)
    assert type(model.layers[0].self_attn) is routed  # routed once
    assert module.scaled_dot_product_attention is base.scaled_dot_product_attention
    assert type(other.layers[0].self_attn) is module.Attention
    plain = model(tokens, cache=make_prompt_cache(model))  # reaches the original attention
    split = model(tokens[:, 2:], cache=shared.shared_prefix_caches(prefix, rows=1))
    assert mx.allclose(plain[:, 2:], split, atol=1e-4).item()
    # the other model never routes: a shared-prefix cache there sees only the row's own keys
    after = other(tokens[:, 2:], cache=shared.shared_prefix_caches(prefix, rows=1))
    assert mx.array_equal(before, after).item()
    assert not mx.allclose(after, split, atol=1e-4).item()
