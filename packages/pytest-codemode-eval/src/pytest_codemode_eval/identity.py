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


class ModelNotFound(Exception):
    """A --codemode-model that is neither a local model folder nor a hub id."""


def looks_like_hub_id(requested: str) -> bool:
    return requested.count("/") == 1 and not requested.startswith((".", "/", "~"))


def resolve_model_path(requested: str) -> Path:
    """A local folder as given, or a hub id resolved through mlx-lm's own download cache."""
    path = Path(requested).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFound(f"{path}: not a model folder (no config.json)")
        return path
    if path.exists() or not looks_like_hub_id(requested):
        raise ModelNotFound(f"model folder not found: {requested}")
    from mlx_lm.utils import hf_repo_to_path  # e.g. mlx-community/Qwen3-8B-5bit

    try:
        return Path(hf_repo_to_path(requested))
    except Exception as exc:
        raise ModelNotFound(f"cannot resolve {requested!r} as a hub model: {exc}") from exc


def check_model_argument(requested: str, adapter: Path | None) -> None:
    """Fail fast, before any case runs, on a local model or adapter folder that is not there."""
    path = Path(requested).expanduser()
    if path.is_dir() or not looks_like_hub_id(requested):
        resolve_model_path(requested)
    if adapter is not None and not (adapter / "adapters.safetensors").is_file():
        raise ModelNotFound(f"{adapter}: not an adapter folder (no adapters.safetensors)")


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
