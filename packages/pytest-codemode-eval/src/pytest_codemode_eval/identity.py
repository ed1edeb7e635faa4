"""Fingerprint exactly which model files were measured, without importing mlx.

One published series of results evaluated a cached base model instead of the fine-tuned one;
a content hash of the weights, config and tokenizer files in every report makes that visible.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

MODEL_FILE_PATTERNS = (
    "*.safetensors",
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
    "generation_config.json",
    "adapter_config.json",
    "*.model",
)
_CHUNK = 1 << 20


def fingerprint_directory(folder: Path) -> str:
    """sha256 over the names and bytes of a model or adapter folder's defining files."""
    digest = hashlib.sha256()
    files = sorted(
        {p for pattern in MODEL_FILE_PATTERNS for p in folder.glob(pattern) if p.is_file()}
    )
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.safetensors") if p.is_file())


def model_identity(model_dir: Path, adapter_dir: Path | None, requested: str) -> dict[str, Any]:
    identity: dict[str, Any] = {
        "requested": requested,
        "path": str(model_dir.resolve()),
        "fingerprint": fingerprint_directory(model_dir),
        "size_bytes": folder_size(model_dir),
    }
    if adapter_dir is not None:
        identity["adapter"] = str(adapter_dir.resolve())
        identity["adapter_fingerprint"] = fingerprint_directory(adapter_dir)
    return identity
