"""Batched attention behind one shared prefix, stored once (cascade attention).

Every case of a suite starts with the same system prompt and tool stubs (~1,600 tokens for the
real Qwen tokenizers). Batching the cases the usual way gives each row its own copy of that
prefix's keys and values: memory grows with the batch (27 copies of a Qwen3-8B prefix are
~6 GB) and every decode step reads all the copies, which on a CPU costs more than the model's
weights. Here the prefix is stored once and attended by all rows with one matrix product; each
row's own tokens live in a small, left-padded batched cache; the two partial softmaxes are merged
exactly (log-sum-exp). Numerically this is attention over the concatenated keys, summed in
another order: in float32 the greedy outputs equal the one-by-one outputs (tested on every case
of the suite); in bfloat16 they do not (16 of 27 differed on a random tiny model, where mlx-lm's
BatchGenerator with per-row copies matched 27/27), so it is used for float32 models only.

It hooks into an mlx-lm model through its own extension points: a cache object per layer
(`offset`, `update_and_fetch`, `make_mask`) and the attention its layers call. Only the model
the backend set up is routed (its attention layers get a subclass whose `__call__` reads a
routed attention); mlx-lm's modules, and any other model in the process, are left as they are,
and in the routed model every other cache type still reaches the original attention.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable, Sequence
from typing import Any

import mlx.core as mx
from mlx_lm.models.cache import KVCache, make_prompt_cache

GROWTH = 256  # columns added to a row cache at a time (as mlx-lm's own caches do)
# mlx-lm model modules read to attend as routed here: rope at `cache.offset`, then
# `cache.update_and_fetch`, then `scaled_dot_product_attention` over what it returned, with no
# extra mask or sinks (MLA models, for one, pass position scores as the mask: not routable)
ROUTABLE_MODULES = frozenset({"qwen3", "qwen3_moe", "qwen2", "qwen2_moe", "llama"})
ATTENTION = "scaled_dot_product_attention"  # the module function mlx-lm's attention layers call
_ROUTED = "_codemode_shared_prefix"  # set on the routed layer classes
_ROUTED_CLASSES: dict[type, type] = {}  # mlx-lm's attention class -> its routed subclass


class SharedPrefixCache:
    """One layer's cache for a batch of rows that all continue one prefix.

    `offset` is each row's rope position for its next token (prefix length + the row's own
    tokens so far); row `i` keeps its tokens left-padded by `left_padding[i]` columns.
    """

    def __init__(self, prefix_keys: mx.array, prefix_values: mx.array, rows: int) -> None:
        self.prefix_keys = prefix_keys  # [1, kv_heads, P, head_dim]
        self.prefix_values = prefix_values
        self.keys: mx.array | None = None  # [rows, kv_heads, capacity, head_dim]
        self.values: mx.array | None = None
        self.used = 0  # filled columns of keys/values
        self.left_padding = mx.zeros((rows,), dtype=mx.int32)
        self.offset = mx.full((rows,), prefix_keys.shape[2], dtype=mx.int32)

    @property
    def rows(self) -> int:
        return int(self.offset.shape[0])

    def pad_left(self, padding: Sequence[int]) -> None:
        """Before the first forward pass: row i's tokens start after padding[i] filler columns."""
        self.left_padding = mx.array(list(padding), dtype=mx.int32)
        self.offset = self.offset - self.left_padding

    def make_mask(self, n: int, **_: Any) -> None:
        """The model asks its first layer's cache for a mask; `attend` builds its own."""
        return None

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        n = keys.shape[2]
        if self.keys is None or self.values is None or self.used + n > self.keys.shape[2]:
            grow = ((n + GROWTH - 1) // GROWTH) * GROWTH
            shape_k = (keys.shape[0], keys.shape[1], grow, keys.shape[3])
            shape_v = (values.shape[0], values.shape[1], grow, values.shape[3])
            new_k, new_v = mx.zeros(shape_k, keys.dtype), mx.zeros(shape_v, values.dtype)
            if self.keys is None or self.values is None:
                self.keys, self.values = new_k, new_v
            else:
                self.keys = mx.concatenate([self.keys[..., : self.used, :], new_k], axis=2)
                self.values = mx.concatenate([self.values[..., : self.used, :], new_v], axis=2)
        self.keys[..., self.used : self.used + n, :] = keys
        self.values[..., self.used : self.used + n, :] = values
        self.used += n
        self.offset = self.offset + n
        return self.keys[..., : self.used, :], self.values[..., : self.used, :]

    def attend(self, queries: mx.array, keys: mx.array, values: mx.array, scale: float) -> mx.array:
        """Softmax attention of each row's new queries over the prefix and its own tokens."""
        batch, heads, length, dim = queries.shape
        kv_heads = self.prefix_keys.shape[1]
        group = heads // kv_heads
        q = (queries * scale).reshape(batch, kv_heads, group * length, dim)
        # the prefix, once for all rows: one [kv_heads, rows*group*length, P] product
        q_all = q.transpose(1, 0, 2, 3).reshape(kv_heads, batch * group * length, dim)
        s_prefix = q_all @ self.prefix_keys[0].swapaxes(-1, -2)
        m_prefix = s_prefix.max(axis=-1, keepdims=True)
        e_prefix = mx.exp(s_prefix - m_prefix)
        l_prefix = e_prefix.sum(axis=-1, keepdims=True)
        o_prefix = e_prefix @ self.prefix_values[0]

        def per_row(x: mx.array) -> mx.array:
            return x.reshape(kv_heads, batch, group * length, -1).transpose(1, 0, 2, 3)

        m_prefix, l_prefix, o_prefix = per_row(m_prefix), per_row(l_prefix), per_row(o_prefix)
        # each row's own tokens: causal, and nothing left of its padding
        s_own = q @ keys.swapaxes(-1, -2)  # [rows, kv_heads, group*length, columns]
        columns = keys.shape[2]
        key_at = mx.arange(columns)
        query_at = mx.arange(columns - length, columns)
        visible = (key_at[None, :] <= query_at[:, None])[None] & (
            key_at[None, None, :] >= self.left_padding[:, None, None]
        )  # [rows, length, columns]
        visible = mx.broadcast_to(visible[:, None, None], (batch, 1, group, length, columns))
        visible = visible.reshape(batch, 1, group * length, columns)
        s_own = mx.where(visible, s_own, mx.finfo(s_own.dtype).min)
        m_own = s_own.max(axis=-1, keepdims=True)
        e_own = mx.exp(s_own - m_own) * visible
        l_own = e_own.sum(axis=-1, keepdims=True)
        o_own = e_own @ values
        top = mx.maximum(m_prefix, m_own)
        w_prefix, w_own = mx.exp(m_prefix - top), mx.exp(m_own - top)
        out = (o_prefix * w_prefix + o_own * w_own) / (l_prefix * w_prefix + l_own * w_own)
        return out.reshape(batch, heads, length, dim)

    def keep(self, rows: Sequence[int]) -> None:
        """Only these rows go on; columns that became padding for every row are dropped."""
        index = mx.array(list(rows), dtype=mx.int32)
        self.left_padding = self.left_padding[index]
        self.offset = self.offset[index]
        if self.keys is not None and self.values is not None:
            self.keys, self.values = self.keys[index], self.values[index]
            trim = _as_int(self.left_padding.min()) if len(rows) else 0
            if trim:
                self.keys = self.keys[..., trim : self.used, :]
                self.values = self.values[..., trim : self.used, :]
                self.used -= trim
                self.left_padding = self.left_padding - trim

    def plain(self) -> KVCache:
        """The only row as an ordinary cache (prefix + its tokens): one row alone decodes
        faster through mlx's fused attention than through the split one."""
        if self.rows != 1 or self.keys is None or self.values is None:
            raise ValueError("plain() needs exactly one row that has seen its tokens")
        start = _as_int(self.left_padding[0])
        cache = KVCache()
        keys = mx.concatenate([self.prefix_keys, self.keys[..., start : self.used, :]], axis=2)
        values = mx.concatenate(
            [self.prefix_values, self.values[..., start : self.used, :]], axis=2
        )
        cache.state = (keys, values, keys.shape[2])
        return cache

    def extend(self, other: SharedPrefixCache) -> None:
        """Append another batch's rows (same prefix), padding the shorter side on the left."""
        if self.keys is None or self.values is None or other.keys is None or other.values is None:
            raise ValueError("extend() needs two caches that have seen their rows' tokens")
        width = max(self.used, other.used)
        mine_k, mine_v = _left_pad(self.keys, self.values, self.used, width)
        their_k, their_v = _left_pad(other.keys, other.values, other.used, width)
        self.keys = mx.concatenate([mine_k, their_k], axis=0)
        self.values = mx.concatenate([mine_v, their_v], axis=0)
        self.left_padding = mx.concatenate(
            [self.left_padding + (width - self.used), other.left_padding + (width - other.used)]
        )
        self.offset = mx.concatenate([self.offset, other.offset])
        self.used = width


def _as_int(value: mx.array) -> int:
    item = value.item()
    assert isinstance(item, int)
    return item


def _left_pad(keys: mx.array, values: mx.array, used: int, width: int) -> tuple[mx.array, mx.array]:
    keys, values = keys[..., :used, :], values[..., :used, :]
    if used == width:
        return keys, values
    shape = (*keys.shape[:2], width - used)
    pad_k = mx.zeros((*shape, keys.shape[3]), keys.dtype)
    pad_v = mx.zeros((*shape, values.shape[3]), values.dtype)
    return mx.concatenate([pad_k, keys], axis=2), mx.concatenate([pad_v, values], axis=2)


def supports_shared_prefix(model: Any, prefix: Sequence[KVCache]) -> bool:
    """True for a float32 prefix whose layers all use a plain KV cache, in a model whose
    attention can be routed (routing this model's attention layers, once); otherwise the rows
    batch with a copy of the prefix each."""
    if not prefix or not all(type(c) is KVCache for c in make_prompt_cache(model)):
        return False
    if any(c.keys is None or c.keys.dtype != mx.float32 for c in prefix):
        return False
    module = importlib.import_module(type(model).__module__)
    if module.__name__.rsplit(".", 1)[-1] not in ROUTABLE_MODULES:
        return False
    for layer in model.modules():
        if _calls_attention(type(layer), module.__dict__):
            layer.__class__ = _routed_class(type(layer))
    return any(getattr(type(layer), _ROUTED, False) for layer in model.modules())


def _calls_attention(cls: type, module_globals: dict[str, Any]) -> bool:
    """A layer class of the model's module whose `__call__` calls the module's attention."""
    call = vars(cls).get("__call__")
    return (
        not getattr(cls, _ROUTED, False)
        and getattr(call, "__globals__", None) is module_globals
        and ATTENTION in getattr(getattr(call, "__code__", None), "co_names", ())
        and callable(module_globals.get(ATTENTION))
    )


def _routed_class(cls: type) -> type:
    """A subclass of one attention layer class whose `__call__` is mlx-lm's own code, reading a
    copy of its module's globals in which the attention routes SharedPrefixCache rows. Only
    layers given this class (one model's) are routed: the module and its class stay as they are."""
    if cls not in _ROUTED_CLASSES:
        call: Any = vars(cls)["__call__"]
        names = {**call.__globals__, ATTENTION: _routed(call.__globals__[ATTENTION])}
        routed = types.FunctionType(
            call.__code__, names, call.__name__, call.__defaults__, call.__closure__
        )
        routed.__kwdefaults__ = call.__kwdefaults__
        _ROUTED_CLASSES[cls] = type(cls.__name__, (cls,), {"__call__": routed, _ROUTED: True})
    return _ROUTED_CLASSES[cls]


def _routed(original: Callable[..., mx.array]) -> Callable[..., mx.array]:
    def scaled_dot_product_attention(
        queries: mx.array, keys: mx.array, values: mx.array, *args: Any, **kwargs: Any
    ) -> mx.array:
        cache = kwargs.get("cache", args[0] if args else None)
        if isinstance(cache, SharedPrefixCache) and kwargs.get("sinks") is None:
            scale = kwargs.get("scale", args[1] if len(args) > 1 else None)
            return cache.attend(queries, keys, values, float(scale))  # type: ignore[arg-type]
        return original(queries, keys, values, *args, **kwargs)

    return scaled_dot_product_attention


def shared_prefix_caches(prefix: Sequence[KVCache], rows: int) -> list[SharedPrefixCache]:
    """One SharedPrefixCache per layer over a prefilled prefix (not copied, not modified)."""
    caches = []
    for layer in prefix:
        used = layer.offset
        keys, values = layer.keys[..., :used, :], layer.values[..., :used, :]
        caches.append(SharedPrefixCache(keys, values, rows))
    return caches
