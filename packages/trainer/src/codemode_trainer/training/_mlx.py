"""The trainer's only door to mlx and mlx-lm, imported lazily so the CLI and tests start fast.

Everything else in the package talks to plain Python types and paths; keeping mlx here means one
place to stub, to patch a BLAS in before import, or to follow mlx-lm API changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from codemode_trainer.errors import TrainerError
from codemode_trainer.rows import dataset_rows


def save_random_weights(config: Mapping[str, Any], path: Path, seed: int) -> int:
    """Build mlx-lm's model class for ``config``, seeded, and save its weights; return #params.

    mlx-lm's own init (the one its layers use) is what training from scratch starts from, and
    ``mx.random.seed`` before construction makes the bytes reproducible.
    """
    _mlx_ready()
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.utils import _get_classes

    model_class, args_class = _get_classes(config=dict(config))
    mx.random.seed(seed)
    model = model_class(args_class.from_dict(dict(config)))
    weights: dict[str, Any] = dict(tree_flatten(model.parameters()))
    mx.eval(list(weights.values()))
    mx.save_safetensors(str(path), weights, metadata={"format": "mlx"})
    return sum(int(w.size) for w in weights.values())


def count_parameters(model_dir: Path) -> int:
    """Number of weights stored in a model directory's safetensors files."""
    _mlx_ready()
    import mlx.core as mx

    total = 0
    for file in sorted(model_dir.glob("model*.safetensors")):
        weights = mx.load(str(file))
        assert isinstance(weights, dict)
        total += sum(int(w.size) for w in weights.values())
    return total


# --- training, fusing and quantizing (mlx-lm's tuner API) ---------------------------------------


class SetupError(TrainerError, ValueError):
    """mlx-lm refused the model, data or settings; the message is one line."""


def _mlx_ready() -> None:
    """Bind an optimized BLAS before mlx's first import (a no-op once mlx is loaded)."""
    from pytest_codemode_eval.blas import use_fast_blas

    use_fast_blas()


def _module(name: str) -> Any:
    """An mlx/mlx-lm module typed ``Any``: their partial annotations would only add noise."""
    import importlib

    _mlx_ready()
    return importlib.import_module(name)


def _cast_floats(model: Any, dtype_name: str) -> None:
    """Cast floating parameters like ``mlx_lm.convert`` does (respecting ``cast_predicate``)."""
    mx = _module("mlx.core")
    tree_map_with_path = _module("mlx.utils").tree_map_with_path

    dtype = getattr(mx, dtype_name)
    keep = getattr(model, "cast_predicate", lambda _: True)

    def cast(path: str, value: Any) -> Any:
        if keep(path) and mx.issubdtype(value.dtype, mx.floating) and value.dtype != dtype:
            return value.astype(dtype)
        return value

    model.update(tree_map_with_path(cast, model.parameters()))


def _is_quantized(config: Mapping[str, Any]) -> bool:
    return "quantization" in config or "quantization_config" in config


def _set_path(tree: Any, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = tree
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    elif last in node:
        node[last] = value
    else:
        raise KeyError(dotted)


class _QuietUI:
    """Stands in for mlx-lm's rich ``TrainUI``: progress is ours to print (and cheaper)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> _QuietUI:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def advance(self) -> None:
        pass

    def report_train(self, *args: Any) -> None:
        pass

    def report_val(self, *args: Any) -> None:
        pass

    def report_save(self, *args: Any) -> None:
        pass

    def val_task(self, total: int) -> Any:
        from contextlib import nullcontext

        return nullcontext(lambda: None)


def _isolated_batches(batches: Any, seed: int) -> Any:
    """Run mlx-lm's batch generator on its own numpy RNG stream (it draws from the global one).

    Validation then never shifts the training order, and the order depends on the seed only.
    """
    import numpy as np

    state = np.random.RandomState(seed).get_state()
    while True:
        outer = np.random.get_state()
        np.random.set_state(state)
        try:
            item = next(batches)
        except StopIteration:
            return
        finally:
            state = np.random.get_state()
            np.random.set_state(outer)
        yield item


def check_architecture(config: Mapping[str, Any]) -> None:
    """Refuse a ``model_type`` mlx-lm has no model class for (it would fail only at load)."""
    utils = _module("mlx_lm.utils")
    try:
        utils._get_classes(config=dict(config))
    except (ValueError, ImportError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SetupError(f"model_type {config.get('model_type')!r}: {first}") from None


def load_model(model_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
    """``mlx_lm.load`` with its failures as one line naming the folder.

    ``check_model_dir`` refuses bad files before a run starts; what only the loader can see (an
    architecture mlx-lm does not know, weights that do not fit the config) still ends here, and
    the loader raises anything from KeyError to RuntimeError, hence the broad catch.
    """
    utils = _module("mlx_lm.utils")
    try:
        model, tokenizer, config = utils.load(str(model_dir), return_config=True)
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SetupError(f"{model_dir}: cannot load the model: {first}") from None
    return model, tokenizer, dict(config)


def _load_arrays(path: Path) -> dict[str, Any]:
    """A checkpoint's arrays; a missing or corrupt file is one line naming it."""
    try:
        arrays = _module("mlx.core").load(str(path))
    except (RuntimeError, ValueError, OSError) as error:
        raise SetupError(f"{path}: cannot read the checkpoint: {str(error).strip()}") from None
    assert isinstance(arrays, dict)
    return arrays


def _load_for_training(model_dir: Path, s: Mapping[str, Any]) -> tuple[Any, Any, bool]:
    """The model in its training dtype (a quantized base dequantized for a full fine-tune), with
    mlx's and numpy's RNGs seeded right after loading, where the LoRA layers draw from them."""
    import numpy as np

    model, tokenizer, config = load_model(model_dir)
    dequantized = False
    if s["fine_tune_type"] == "full" and _is_quantized(config):
        model = _module("mlx_lm.utils").dequantize_model(model)  # int weights take no gradients
        dequantized = True
    if s.get("dtype"):
        _cast_floats(model, s["dtype"])
    _module("mlx.core").random.seed(int(s["seed"]))
    np.random.seed(int(s["seed"]))
    return model, tokenizer, dequantized


def _make_trainable(model: Any, s: Mapping[str, Any]) -> None:
    """Unfreeze everything (full) or add LoRA/DoRA layers to the last ``num_layers`` blocks."""
    model.freeze()
    layers = len(model.layers)
    num_layers = int(s["num_layers"])
    if num_layers > layers:
        raise SetupError(f"num_layers is {num_layers} but the model has {layers} layers")
    if s["fine_tune_type"] == "full":
        model.unfreeze()  # everything, embeddings and head too (the CLI leaves them frozen)
    else:
        try:
            _module("mlx_lm.tuner.utils").linear_to_lora_layers(
                model,
                num_layers,
                dict(s["lora_parameters"]),
                use_dora=s["fine_tune_type"] == "dora",
            )
        except ValueError as error:
            raise SetupError(str(error).splitlines()[0]) from None
    if s.get("resume_adapter_file"):
        model.load_weights(str(s["resume_adapter_file"]), strict=False)


def _chat_dataset(path: Path, tokenizer: Any, mask_prompt: bool) -> Any:
    """mlx-lm's cached dataset of a JSONL split, or None when the file is absent or empty."""
    import types

    datasets = _module("mlx_lm.tuner.datasets")
    if not path.exists():
        return None
    rows = [row for _, row in dataset_rows(path, may_be_empty=path.stem == "valid")]
    if not rows:
        return None
    options = types.SimpleNamespace(mask_prompt=mask_prompt)
    try:
        return datasets.CacheDataset(datasets.create_dataset(rows, tokenizer, options))
    except (ValueError, KeyError) as error:
        raise SetupError(f"{path}: {str(error).splitlines()[0]}") from None


def _build_optimizer(s: Mapping[str, Any]) -> Any:
    optim = _module("mlx.optimizers")
    schedule = s.get("lr_schedule")
    lr = _module("mlx_lm.tuner.utils").build_schedule(schedule) if schedule else s["learning_rate"]
    classes = {
        "adam": optim.Adam,
        "adamw": optim.AdamW,
        "sgd": optim.SGD,
        "adafactor": optim.Adafactor,
        "muon": optim.Muon,
    }
    name = s["optimizer"]
    extra = dict(s.get("optimizer_config", {}).get(name, {}))
    return classes[name](learning_rate=lr, **extra)


class TrainSession:
    """A model made trainable (LoRA, DoRA or full) with its datasets and optimizer.

    ``run(start, stop, ...)`` trains iterations ``start+1 .. stop`` through
    ``mlx_lm.tuner.trainer.train``; ``after_iteration(i)`` is called once iteration ``i`` is done
    (its weights, optimizer state and RNG are final), which is where the caller validates and
    checkpoints. ``save``/``restore`` write and read adapter weights plus optimizer state and the
    mlx RNG key, so a restored session continues bit for bit.
    """

    def __init__(self, model_dir: Path, data_dir: Path, settings: Mapping[str, Any]) -> None:
        mx = _module("mlx.core")
        tree_flatten = _module("mlx.utils").tree_flatten

        self.settings = dict(settings)
        s = self.settings
        self.seed = int(s["seed"])
        mx.reset_peak_memory()
        self.model, self.tokenizer, self.dequantized = _load_for_training(model_dir, s)
        _make_trainable(self.model, s)
        self.trainable = sum(
            int(v.size) for _, v in tree_flatten(self.model.trainable_parameters())
        )
        self.total = int(_module("mlx_lm.utils").get_total_parameters(self.model))

        mask_prompt = bool(s["mask_prompt"])
        self.train_set = _chat_dataset(data_dir / "train.jsonl", self.tokenizer, mask_prompt)
        self.valid_set = _chat_dataset(data_dir / "valid.jsonl", self.tokenizer, mask_prompt)
        batch = int(s["batch_size"])
        if self.train_set is None or len(self.train_set) < batch:
            n = 0 if self.train_set is None else len(self.train_set)
            raise SetupError(f"{data_dir}/train.jsonl has {n} rows, fewer than batch_size {batch}")
        # under mlx.launch each rank evaluates 1/size of every validation batch: it must divide
        ranks = int(mx.distributed.init().size())
        rows = min(batch, len(self.valid_set)) if self.valid_set is not None else 0
        self.val_batch = rows - rows % ranks
        if self.val_batch == 0:
            self.valid_set = None
        self.optimizer = _build_optimizer(s)

    # --- checkpoints ---
    def save(self, adapter_files: list[Path], optimizer_file: Path | None) -> None:
        """Write the trainable weights to each of ``adapter_files`` (and optimizer + RNG state)."""
        import os

        mx = _module("mlx.core")
        tree_flatten = _module("mlx.utils").tree_flatten

        def write(path: Path, arrays: dict[str, Any]) -> None:
            tmp = path.with_name(f".tmp.{path.name}")
            mx.save_safetensors(str(tmp), arrays, metadata={"format": "mlx"})
            os.replace(tmp, path)

        weights = dict(tree_flatten(self.model.trainable_parameters()))
        for path in adapter_files:
            write(path, weights)
        if optimizer_file is not None:
            state = {f"optimizer.{k}": v for k, v in tree_flatten(self.optimizer.state)}
            state["random.key"] = mx.random.state[0]
            write(optimizer_file, state)

    def restore(self, adapter_file: Path, optimizer_file: Path) -> None:
        """Load what ``save`` wrote: weights, optimizer state (step, moments) and the RNG key."""
        mx = _module("mlx.core")

        weights = _load_arrays(adapter_file)
        try:
            self.model.load_weights(list(weights.items()), strict=False)
        except ValueError as error:
            raise SetupError(f"{adapter_file}: {str(error).splitlines()[0]}") from None
        state = _load_arrays(optimizer_file)
        key = state.pop("random.key")
        self.optimizer.init(self.model.trainable_parameters())
        for name, value in state.items():
            try:
                _set_path(self.optimizer.state, name.removeprefix("optimizer."), value)
            except (KeyError, IndexError, ValueError):
                raise SetupError(
                    f"{optimizer_file}: optimizer entry {name} does not match the model"
                ) from None
        hi, lo = (int(x) for x in key.tolist())
        mx.random.seed((hi << 32) | lo)  # the key is the seed's two 32-bit halves

    # --- validation and training ---
    def validate(self) -> float | None:
        """Mean validation loss over the same ``val_batches`` batches every time (None: no data)."""
        if self.valid_set is None:
            return None
        trainer = _module("mlx_lm.tuner.trainer")

        def batches(*args: Any, **kwargs: Any) -> Any:
            return _isolated_batches(trainer.iterate_batches(*args, **kwargs), self.seed)

        s = self.settings
        loss = trainer.evaluate(
            model=self.model,
            dataset=self.valid_set,
            batch_size=self.val_batch,
            num_batches=int(s["val_batches"]),
            max_seq_length=int(s["max_seq_length"]),
            iterate_batches=batches,
        )
        self.model.train()
        return float(loss)

    def peak_memory(self) -> int:
        return int(_module("mlx.core").get_peak_memory())

    def run(
        self,
        start: int,
        stop: int,
        adapter_file: Path,
        on_step: Callable[[int, float, int], None],
        after_iteration: Callable[[int], None],
    ) -> None:
        """Train iterations ``start+1 .. stop``; the batch order is the one an uninterrupted run
        of the same seed sees (the first ``start`` batches are drawn and skipped).

        Under ``mlx.launch`` mlx-lm gives each rank its share of every batch, averages the
        gradients and reports losses and token counts summed over the ranks.
        """
        trainer = _module("mlx_lm.tuner.trainer")
        with _quiet_trainer(trainer, type(self.model.layers[0])):
            trainer.train(
                model=self.model,
                optimizer=self.optimizer,
                train_dataset=self.train_set,
                val_dataset=None,
                args=_training_args(trainer, self.settings, stop - start, adapter_file),
                iterate_batches=_replayed_batches(trainer, self.seed, start, after_iteration),
                training_callback=_step_reporter(trainer, start, on_step),
            )
        after_iteration(stop)

    # --- under mlx.launch ---
    def share_rank0_state(self, writer: bool) -> None:
        """Every rank takes rank 0's weights, optimizer state and RNG key (a resumed run: only
        rank 0 read the checkpoint, from its own disk)."""
        mx = _module("mlx.core")
        tree_flatten = _module("mlx.utils").tree_flatten

        def from_rank0(value: Any) -> Any:
            mine = value if writer else mx.zeros_like(value)
            return mx.distributed.all_sum(mine, stream=mx.cpu)

        weights = [(k, from_rank0(v)) for k, v in tree_flatten(self.model.trainable_parameters())]
        self.model.load_weights(weights, strict=False)
        if not writer:
            self.optimizer.init(self.model.trainable_parameters())
        for name, value in tree_flatten(self.optimizer.state):
            _set_path(self.optimizer.state, name, from_rank0(value))
        hi, lo = (int(x) for x in from_rank0(mx.random.state[0]).tolist())
        mx.random.seed((hi << 32) | lo)
        mx.eval(self.model.parameters(), self.optimizer.state)

    def weights_digest(self) -> str:
        """sha256 (16 hex digits) of the trainable weights: equal on every rank of a sound run."""
        import hashlib

        import numpy as np

        mx = _module("mlx.core")
        digest = hashlib.sha256()
        for name, value in sorted(
            _module("mlx.utils").tree_flatten(self.model.trainable_parameters())
        ):
            if value.dtype != mx.float32 and mx.issubdtype(value.dtype, mx.floating):
                value = value.astype(mx.float32)  # numpy has no bfloat16; the cast is exact
            digest.update(name.encode() + b"\0" + np.array(value).tobytes())
        return digest.hexdigest()[:16]


def _training_args(trainer: Any, s: Mapping[str, Any], iters: int, adapter_file: Path) -> Any:
    """mlx-lm's ``TrainingArgs``: per-step reports; validation and checkpoints are ours."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(trainer.TrainingArgs)}
    accumulate = int(s["grad_accumulation_steps"])
    if accumulate > 1 and "grad_accumulation_steps" not in known:
        raise SetupError("this mlx-lm has no gradient accumulation (grad_accumulation_steps)")
    options = {
        "batch_size": int(s["batch_size"]),
        "iters": iters,
        "val_batches": int(s["val_batches"]),
        "steps_per_report": 1,  # per-step losses; ours to aggregate on global iterations
        "steps_per_eval": iters + 1,  # validation is ours (val_dataset=None anyway)
        "steps_per_save": iters + 1,  # checkpoints are ours (with optimizer state)
        "max_seq_length": int(s["max_seq_length"]),
        "adapter_file": str(adapter_file),
        "grad_checkpoint": bool(s["grad_checkpoint"]),
        "grad_accumulation_steps": accumulate,
        "clear_cache_threshold": int(s.get("clear_cache_threshold", 0)),
    }
    return trainer.TrainingArgs(**{k: v for k, v in options.items() if k in known})


def _replayed_batches(
    trainer: Any, seed: int, start: int, after_iteration: Callable[[int], None]
) -> Callable[..., Any]:
    """mlx-lm's batches in the order of an uninterrupted run, calling ``after_iteration(i)``
    once iteration ``i`` is done (when mlx-lm asks for the next batch)."""

    def train_batches(dataset: Any, batch_size: int, max_seq_length: int, **kw: Any) -> Any:
        kw["loop"] = True
        inner = _isolated_batches(
            trainer.iterate_batches(dataset, batch_size, max_seq_length, **kw), seed
        )
        for _ in range(start):  # replay the order of the iterations already done
            next(inner)
        iteration = start
        for batch in inner:
            if iteration > start:
                after_iteration(iteration)
            yield batch
            iteration += 1

    return train_batches


def _step_reporter(trainer: Any, start: int, on_step: Callable[[int, float, int], None]) -> Any:
    """A ``TrainingCallback`` turning mlx-lm's per-step reports into ``on_step(i, loss, tokens)``
    on global iteration numbers (``tokens``: trained in that step, over all ranks)."""

    class Steps(trainer.TrainingCallback):  # type: ignore[misc]
        seen = 0

        def on_train_loss_report(self, info: dict[str, Any]) -> None:
            tokens = int(info["trained_tokens"]) - self.seen
            self.seen = int(info["trained_tokens"])
            on_step(start + int(info["iteration"]), float(info["train_loss"]), tokens)

    return Steps()


@contextlib.contextmanager
def _quiet_trainer(trainer: Any, layer_class: Any) -> Iterator[None]:
    """mlx-lm's rich UI swapped for ``_QuietUI``, and its grad-checkpoint patch of the layer class
    (made for the whole process) undone afterwards."""
    own_call = layer_class.__dict__.get("__call__")
    ui = getattr(trainer, "TrainUI", None)
    if ui is not None:
        trainer.TrainUI = _QuietUI
    try:
        yield
    finally:
        if ui is not None:
            trainer.TrainUI = ui
        if own_call is not None:
            layer_class.__call__ = own_call
        elif "__call__" in layer_class.__dict__:
            delattr(layer_class, "__call__")


def world() -> tuple[int, int]:
    """(rank, size) of the group ``mlx.launch`` started, ``(0, 1)`` without it."""
    group = _module("mlx.core").distributed.init()
    return int(group.rank()), int(group.size())


def share_bytes(payload: bytes | None, writer: bool) -> bytes:
    """Rank 0's ``payload`` on every rank: a sum in which the other ranks add zeros."""
    import numpy as np

    mx = _module("mlx.core")
    mine = payload if writer and payload is not None else b""
    length = mx.distributed.all_sum(mx.array([len(mine)], dtype=mx.int32), stream=mx.cpu)
    size = int(length.item())
    buffer = np.frombuffer(mine, dtype=np.uint8) if writer else np.zeros(size, dtype=np.uint8)
    shared = mx.distributed.all_sum(mx.array(buffer), stream=mx.cpu)
    return bytes(np.array(shared, dtype=np.uint8).tobytes())


def fuse_adapters(model_dir: Path, adapter_dir: Path, out: Path, dtype: str | None) -> bool:
    """Base + adapters -> a plain model in ``out``; return whether the base was dequantized.

    A quantized base is dequantized first, so the fused model is dense (re-quantizing fused
    weights is the quantize stage's job, done once). Full fine-tunes ship every weight as the
    "adapter" (``fine_tune_type = "full"``), which ``load_adapters`` loads over the base.
    """
    tree_unflatten = _module("mlx.utils").tree_unflatten
    tuner_utils, utils = _module("mlx_lm.tuner.utils"), _module("mlx_lm.utils")

    model, tokenizer, config = load_model(model_dir)
    dequantized = _is_quantized(config)
    if dequantized:
        model = utils.dequantize_model(model)
        config.pop("quantization", None)
        config.pop("quantization_config", None)
    try:
        tuner_utils.load_adapters(model, str(adapter_dir))
    except (ValueError, RuntimeError, KeyError) as error:  # mx.load raises RuntimeError
        raise SetupError((str(error).strip().splitlines() or [type(error).__name__])[0]) from None
    fused = [(n, m.fuse()) for n, m in model.named_modules() if hasattr(m, "fuse")]
    if fused:
        model.update_modules(tree_unflatten(fused))
    if dtype:
        _cast_floats(model, dtype)
        config["torch_dtype"] = dtype
    utils.save(out, model_dir, model, tokenizer, config, donate_model=False)
    return bool(dequantized)


def quantize_dir(
    model_dir: Path,
    out: Path,
    bits: int | None,
    group_size: int | None,
    mode: str,
    dtype: str | None,
) -> None:
    """``mlx_lm.convert`` with quantization, non-quantized tensors kept in ``dtype``."""
    import contextlib
    import io

    convert = _module("mlx_lm.convert").convert
    chatter = io.StringIO()  # convert prints "[INFO] ..." lines on stdout
    try:
        with contextlib.redirect_stdout(chatter):
            convert(
                str(model_dir),
                str(out),
                quantize=True,
                q_group_size=group_size,
                q_bits=bits,
                q_mode=mode,
                dtype=dtype,
            )
    except Exception as error:  # convert loads the model: the loader's errors, as load_model
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SetupError(f"{model_dir}: cannot quantize the model: {first}") from None
