"""Check a model folder's files without mlx, so a bad folder is refused before any run starts.

mlx-lm reports a truncated download or a folder that is not a model only when it loads it, as a
traceback, after a run folder was claimed. These checks read what the loader will read (the
config's JSON, each safetensors header and the tensor bytes it promises, the tokenizer's JSON) in
milliseconds and name the file and what was expected.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, NoReturn

from codemode_trainer.errors import TrainerError

_MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header


class ModelFilesError(TrainerError, ValueError):
    """A model folder that mlx-lm could not load; the message names the file."""


def read_json_object(path: Path, expected: str) -> dict[str, Any]:
    """A JSON object from ``path``; anything else is a one-line error saying what was expected."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ModelFilesError(f"{path}: not UTF-8 text (byte {error.start}); {expected}") from None
    except ValueError as error:
        raise ModelFilesError(f"{path}: invalid JSON ({error}); {expected}") from None
    if not isinstance(data, dict):
        raise ModelFilesError(f"{path}: a JSON {type(data).__name__}; {expected}")
    return data


def check_config(path: Path) -> dict[str, Any]:
    """``config.json`` must be a Hugging Face model config naming its architecture."""
    expected = "expected a model config object with a 'model_type' string"
    config = read_json_object(path, expected)
    if not isinstance(config.get("model_type"), str) or not config["model_type"]:
        raise ModelFilesError(f"{path}: no 'model_type'; {expected}")
    return config


def check_safetensors(path: Path) -> None:
    """The 8-byte header length, a JSON header, and every tensor's bytes inside the file."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            _corrupt(path, f"{size} bytes, shorter than a safetensors header")
        (length,) = struct.unpack("<Q", prefix)
        if length > min(_MAX_HEADER, size - 8):
            _corrupt(path, f"the header claims {length} bytes but the file has {size}")
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            _corrupt(path, "the header is not JSON")
    if not isinstance(header, dict):
        _corrupt(path, "the header is not a JSON object")
    ends = [
        _tensor_end(path, name, entry) for name, entry in header.items() if name != "__metadata__"
    ]
    needed = 8 + length + max(ends, default=0)
    if needed > size:
        _corrupt(path, f"truncated: {size} bytes, the tensors need {needed}")


def _tensor_end(path: Path, name: str, entry: Any) -> int:
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets):
        return int(offsets[1])
    _corrupt(path, f"tensor {name!r} has no valid data_offsets")


def _corrupt(path: Path, why: str) -> NoReturn:
    raise ModelFilesError(
        f"{path}: corrupt safetensors weights ({why}); expected a complete safetensors file "
        "(download or build the model again)"
    )


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files mlx-lm's loader reads (``model*.safetensors``)."""
    return sorted(folder.glob("model*.safetensors"))


def check_tokenizer(folder: Path) -> None:
    """The tokenizer's JSON files must parse (a truncated ``tokenizer.json`` fails late)."""
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if (folder / name).is_file():
            read_json_object(folder / name, "expected a Hugging Face tokenizer file")
