"""Training settings: one frozen ``TrainConfig`` read from TOML (or mlx-lm's YAML), plus overrides.

Keys use mlx-lm's names (``iters``, ``batch_size``, ``steps_per_eval``, ``save_every``, ...), so an
mlx-lm ``-c`` config mostly carries over; ``lora_parameters`` is accepted for our ``[lora]`` table
and mlx-lm keys that a run folder makes meaningless (``adapter_path``, ``train``, ...) are accepted
and listed in ``TrainConfig.ignored``. Defaults follow mlx-lm except where this project differs on
purpose: ``mask_prompt = true`` (tool routing learns ~2.4x better), ``num_layers = -1`` (all
blocks; tiny models have fewer than mlx-lm's 16) and ``dtype = "float32"`` (fp16/bf16 are slow on
CPU). Any problem is a ``ConfigError`` whose one-line message names the file and the key.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemode_trainer.errors import TrainerError

FINE_TUNE_TYPES = ("lora", "dora", "full")
OPTIMIZERS = ("adam", "adamw", "sgd", "adafactor", "muon")
DTYPES = ("float32", "bfloat16", "float16")
QUANT_MODES = ("affine", "mxfp4", "nvfp4", "mxfp8")
QUANT_BITS = (2, 3, 4, 5, 6, 8)  # what mx.quantize supports within 2-8
QUANT_GROUP_SIZES = (32, 64, 128)
#: mlx-lm ``lora`` keys that have no meaning here (a run folder fixes where adapters go).
IGNORED_MLX_KEYS = frozenset(
    {
        "adapter_path",
        "config",
        "hf_dataset",
        "project_name",
        "report_to",
        "test",
        "test_batches",
        "train",
        "trust_remote_code",
        "wandb",
    }
)
_YAML_FLOAT = re.compile(  # mlx_lm.lora's float resolver
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
#: mlx-lm spellings of our keys.
ALIASES = {"lora_parameters": "lora"}


class ConfigError(TrainerError, ValueError):
    """A one-line, user-facing configuration problem."""


@dataclass(frozen=True)
class LoraConfig:
    """``lora_parameters`` of mlx-lm: ``keys`` limits which linear layers get adapters."""

    rank: int = 8
    scale: float = 20.0
    dropout: float = 0.0
    keys: tuple[str, ...] | None = None


@dataclass(frozen=True)
class QuantizeConfig:
    bits: int = 5
    group_size: int = 64
    mode: str = "affine"


@dataclass(frozen=True)
class TrainConfig:
    model: str | None = None  # a model directory; relative paths are relative to the config file
    data: str | None = None  # a directory with train.jsonl (valid.jsonl optional)
    fine_tune_type: str = "lora"
    num_layers: int = -1
    lora: LoraConfig = field(default_factory=LoraConfig)
    optimizer: str = "adam"
    optimizer_config: dict[str, Any] = field(default_factory=dict)
    learning_rate: float = 1e-5
    lr_schedule: dict[str, Any] | None = None
    iters: int = 1000
    batch_size: int = 4
    grad_accumulation_steps: int = 1
    grad_checkpoint: bool = False
    max_seq_length: int = 2048
    mask_prompt: bool = True
    seed: int = 0
    val_batches: int = 25
    steps_per_report: int = 10
    steps_per_eval: int = 200
    save_every: int = 100
    clear_cache_threshold: int = 0
    dtype: str = "float32"
    resume_adapter_file: str | None = None
    quantize: QuantizeConfig = field(default_factory=QuantizeConfig)
    ignored: tuple[str, ...] = ()  # mlx-lm keys that were present and ignored

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML-ready data (``None`` values and ``ignored`` left out)."""
        data: dict[str, Any] = _drop_none(
            {k: v for k, v in dataclasses.asdict(self).items() if k != "ignored"}
        )
        return data

    def mlx_args(self) -> dict[str, Any]:
        """The settings in mlx-lm's ``lora`` vocabulary (``adapter_config.json`` holds these)."""
        args = self.to_dict()
        args.pop("quantize", None)
        lora = args.pop("lora")
        if lora.get("keys") is not None:
            lora["keys"] = list(lora["keys"])
        args["lora_parameters"] = lora
        return args


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, tuple | list):
        return [_drop_none(v) for v in value]
    return value


# --- checking values ---


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _check(key: str, value: Any, kind: str, where: str) -> Any:
    """Convert ``value`` to ``kind`` or raise a ConfigError naming ``key`` and ``where``."""
    converted: Any = None
    if kind == "int":
        converted = _int(value)
    elif kind == "float":
        converted = _float(value)
    elif kind == "bool":
        converted = value if isinstance(value, bool) else None
    elif kind in {"str", "path"}:
        converted = value if isinstance(value, str) and value else None
    elif kind == "table":
        converted = dict(value) if isinstance(value, Mapping) else None
    elif kind == "strings":
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        converted = tuple(value) if ok else None
    if converted is None:
        names = {
            "int": "an integer",
            "float": "a number",
            "bool": "true or false",
            "str": "a string",
            "path": "a path string",
            "table": "a table",
            "strings": "a list of strings",
        }
        raise ConfigError(f"{where}: key '{key}' must be {names[kind]}, got {value!r}")
    return converted


_TOP_KINDS = {
    "model": "path", "data": "path", "fine_tune_type": "str", "num_layers": "int",
    "optimizer": "str", "optimizer_config": "table", "learning_rate": "float",
    "lr_schedule": "table", "iters": "int", "batch_size": "int",
    "grad_accumulation_steps": "int", "grad_checkpoint": "bool", "max_seq_length": "int",
    "mask_prompt": "bool", "seed": "int", "val_batches": "int", "steps_per_report": "int",
    "steps_per_eval": "int", "save_every": "int", "clear_cache_threshold": "int",
    "dtype": "str", "resume_adapter_file": "path",
}  # fmt: skip
_SECTIONS: dict[str, dict[str, str]] = {
    "lora": {"rank": "int", "scale": "float", "dropout": "float", "keys": "strings"},
    "quantize": {"bits": "int", "group_size": "int", "mode": "str"},
}
_CHOICES = {
    "fine_tune_type": FINE_TUNE_TYPES,
    "optimizer": OPTIMIZERS,
    "dtype": DTYPES,
    "quantize.mode": QUANT_MODES,
}
_POSITIVE = {
    "iters",
    "batch_size",
    "grad_accumulation_steps",
    "max_seq_length",
    "steps_per_report",
    "steps_per_eval",
    "save_every",
    "lora.rank",
}


def _validate(config: TrainConfig, where: str) -> None:
    flat = {**{k: getattr(config, k) for k in _TOP_KINDS}}
    flat |= {f"lora.{k}": getattr(config.lora, k) for k in _SECTIONS["lora"]}
    flat |= {f"quantize.{k}": getattr(config.quantize, k) for k in _SECTIONS["quantize"]}
    for key, choices in _CHOICES.items():
        if flat[key] not in choices:
            raise ConfigError(
                f"{where}: key '{key}' must be one of {', '.join(choices)}, got {flat[key]!r}"
            )
    for key in _POSITIVE:
        if flat[key] < 1:
            raise ConfigError(f"{where}: key '{key}' must be at least 1, got {flat[key]!r}")
    if config.num_layers == 0 or config.num_layers < -1:
        raise ConfigError(f"{where}: key 'num_layers' must be -1 (all) or at least 1")
    if config.quantize.bits not in QUANT_BITS:
        raise ConfigError(
            f"{where}: key 'quantize.bits' must be one of 2, 3, 4, 5, 6, 8 "
            f"(mlx has no 7-bit), got {config.quantize.bits}"
        )
    if config.quantize.group_size not in QUANT_GROUP_SIZES:
        raise ConfigError(
            f"{where}: key 'quantize.group_size' must be 32, 64 or 128, "
            f"got {config.quantize.group_size}"
        )
    if not 0.0 <= config.lora.dropout < 1.0:
        raise ConfigError(f"{where}: key 'lora.dropout' must be in [0, 1)")
    if config.learning_rate <= 0 and config.lr_schedule is None:
        raise ConfigError(f"{where}: key 'learning_rate' must be positive")
    if config.val_batches == 0 or config.val_batches < -1:
        raise ConfigError(f"{where}: key 'val_batches' must be -1 (all) or at least 1")


# --- building ---


def _resolve(value: str, base: Path | None) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() or base is None else (base / path))


def _merge(
    data: Mapping[str, Any], where: str, base: Path | None, into: dict[str, Any], ignored: set[str]
) -> None:
    """Check ``data`` (one source) and merge its values into ``into`` (sections as dicts)."""
    for raw_key, value in data.items():
        key = ALIASES.get(raw_key, raw_key)
        if key in _SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: key '{raw_key}' must be a table")
            section = into.setdefault(key, {})
            for sub, sub_value in value.items():
                kind = _SECTIONS[key].get(sub)
                if kind is None:
                    raise ConfigError(f"{where}: unknown key '{raw_key}.{sub}'")
                section[sub] = _check(f"{key}.{sub}", sub_value, kind, where)
        elif key in _TOP_KINDS:
            checked = _check(key, value, _TOP_KINDS[key], where)
            into[key] = _resolve(checked, base) if _TOP_KINDS[key] == "path" else checked
        elif key in IGNORED_MLX_KEYS:
            ignored.add(key)
        else:
            raise ConfigError(f"{where}: unknown key '{raw_key}'")


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw table of a ``.toml`` file, or of an mlx-lm ``.yaml``/``.yml`` config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}); expected TOML") from None
    if path.suffix in {".yaml", ".yml"}:
        import yaml  # type: ignore[import-untyped]  # mlx-lm's own dependency

        class Loader(yaml.SafeLoader):  # type: ignore[misc]
            """SafeLoader reading ``1e-5`` as a float, as mlx-lm's loader does (YAML 1.1 won't)."""

        Loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML_FLOAT, list("-+0123456789."))
        try:
            data = yaml.load(text, Loader=Loader)
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: invalid YAML: {str(error).splitlines()[0]}") from None
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a YAML config must be a mapping")
        return data
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line; the value is read as TOML, else kept as a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``{"lora.rank": 4}`` -> ``{"lora": {"rank": 4}}`` (one level, as the config has)."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        head, dot, tail = key.partition(".")
        if dot:
            nested.setdefault(head, {})
            if not isinstance(nested[head], dict):
                raise ConfigError(f"command line: key '{head}' is not a table")
            nested[head][tail] = value
        else:
            nested[key] = value
    return nested


def load_config(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Defaults, then the file at ``path`` (if any), then ``overrides`` (dotted keys allowed).

    Relative paths in the file are resolved against the file's folder; on the command line,
    against the current directory.
    """
    values: dict[str, Any] = {}
    ignored: set[str] = set()
    where = "defaults"
    if path is not None:
        where = str(path)
        _merge(read_config_file(path), where, path.parent.resolve(), values, ignored)
    if overrides:
        _merge(nest(overrides), "command line", Path.cwd(), values, ignored)
        where = f"{where} + command line" if path is not None else "command line"
    return _build(values, where, ignored)


def config_from_dict(data: Mapping[str, Any], where: str = "config") -> TrainConfig:
    """Rebuild a config from ``TrainConfig.to_dict()`` output (e.g. a run's ``config.toml``)."""
    values: dict[str, Any] = {}
    _merge(data, where, None, values, set())
    return _build(values, where, set())


def _build(values: dict[str, Any], where: str, ignored: set[str]) -> TrainConfig:
    values = dict(values)
    values["lora"] = LoraConfig(**values.pop("lora", {}))
    values["quantize"] = QuantizeConfig(**values.pop("quantize", {}))
    config = TrainConfig(**values, ignored=tuple(sorted(ignored)))
    _validate(config, where)
    return config


#: Keys that may change when a run is resumed (more iterations, other reporting cadence).
RESUMABLE_CHANGES = frozenset(
    {
        "iters",
        "steps_per_report",
        "steps_per_eval",
        "save_every",
        "val_batches",
        "clear_cache_threshold",
        "grad_checkpoint",
        "quantize",
    }
)


def differences(old: TrainConfig, new: TrainConfig) -> list[str]:
    """``key (old -> new)`` for each top-level setting that differs and matters to training."""
    a, b = old.to_dict(), new.to_dict()
    return [
        f"{k} ({a.get(k)!r} -> {b.get(k)!r})"
        for k in sorted(set(a) | set(b))
        if k not in RESUMABLE_CHANGES and a.get(k) != b.get(k)
    ]
