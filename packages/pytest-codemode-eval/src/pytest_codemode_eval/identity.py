"""Fingerprint exactly which model files were measured, without importing mlx.

One published series of results evaluated a cached base model instead of the fine-tuned one;
a content hash of the weights, config and tokenizer files in every report makes that visible.

Hashing a multi-GB model costs seconds to minutes in every process (each xdist worker), on every
run. So the hash of a large folder is remembered in a small JSON file (`$CODEMODE_CACHE_DIR`,
else `$XDG_CACHE_HOME/codemode-eval`, else `~/.cache/codemode-eval`) together with each file's
name, size, mtime and inode, and reused while none of those changed (what make, rsync and git's
index trust); the identity of such a folder says so (`fingerprint_method`), whether this run
hashed it or reused the remembered hash, so every xdist worker describes it the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
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
REUSE_FROM_BYTES = 256 << 20  # smaller folders hash in well under a second: always hashed
CACHE_ENV = "CODEMODE_CACHE_DIR"


#: Any one of these holds a tokenizer mlx-lm's loader (through transformers) can read.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tiktoken.model")


class ModelNotFound(Exception):
    """A --codemode-model that is neither a local model folder nor a hub id."""


def model_folder_lacks(folder: Path) -> str | None:
    """The first part a local model folder lacks: ``"folder"`` (none there), ``"config.json"``,
    ``"weights"`` (no ``model*.safetensors``) or ``"tokenizer"`` (none of ``TOKENIZER_FILES``);
    None for a folder mlx-lm's loader finds everything in.

    The one answer to "is this a model folder" for the eval, preflight and training; each asks
    for the parts it needs and words the refusal for its own command.
    """
    if not folder.is_dir():
        return "folder"
    if not (folder / "config.json").is_file():
        return "config.json"
    if not any(path.is_file() for path in folder.glob("model*.safetensors")):
        return "weights"
    if not has_tokenizer(folder):
        return "tokenizer"
    return None


def has_tokenizer(folder: Path) -> bool:
    return any((folder / name).is_file() for name in TOKENIZER_FILES)


def looks_like_hub_id(requested: str) -> bool:
    return requested.count("/") == 1 and not requested.startswith((".", "/", "~"))


def resolve_model_path(requested: str) -> Path:
    """A local folder as given, or a hub id resolved through mlx-lm's own download cache."""
    path = Path(requested).expanduser()
    if path.is_dir():
        if model_folder_lacks(path) == "config.json":  # weights and tokenizer: the loader says
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


def model_files(folder: Path) -> list[Path]:
    return sorted(
        {p for pattern in MODEL_FILE_PATTERNS for p in folder.glob(pattern) if p.is_file()}
    )


def fingerprint_directory(folder: Path) -> str:
    """sha256 over the names and bytes of a model or adapter folder's defining files."""
    digest = hashlib.sha256()
    for path in model_files(folder):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.safetensors") if p.is_file())


def default_store() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "fingerprints.json"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "codemode-eval" / "fingerprints.json"


REUSED = "sha256, reused while each file's name, size, mtime and inode are unchanged"


def remembered_fingerprint(
    folder: Path, store: Path | None = None, reuse_from_bytes: int = REUSE_FROM_BYTES
) -> tuple[str, str | None]:
    """(fingerprint, when it was hashed if reused rather than hashed now)."""
    if not reusable(folder, reuse_from_bytes):
        return fingerprint_directory(folder), None
    stats = [(path.name, path.stat()) for path in model_files(folder)]
    signature = [[name, st.st_size, st.st_mtime_ns, st.st_ino] for name, st in stats]
    store = store or default_store()
    key = str(folder.resolve())
    entries = _read_store(store)
    entry = entries.get(key)
    if isinstance(entry, dict) and entry.get("files") == signature:
        return str(entry["fingerprint"]), str(entry["hashed_at"])
    fingerprint = fingerprint_directory(folder)
    hashed_at = datetime.now(UTC).isoformat(timespec="seconds")
    entries[key] = {"files": signature, "fingerprint": fingerprint, "hashed_at": hashed_at}
    _write_store(store, entries)
    return fingerprint, None


def reusable(folder: Path, reuse_from_bytes: int = REUSE_FROM_BYTES) -> bool:
    """Large enough for its fingerprint to be remembered (decided by size alone, so every
    xdist worker describes the same folder the same way)."""
    return sum(path.stat().st_size for path in model_files(folder)) >= reuse_from_bytes


def _read_store(store: Path) -> dict[str, Any]:
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_store(store: Path, entries: dict[str, Any]) -> None:
    """Atomically (xdist workers may write at once); a read-only home just means no reuse."""
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=store.parent, suffix=".tmp", delete=False, encoding="utf-8"
        ) as handle:
            json.dump(entries, handle)
    except OSError:
        return
    try:
        os.replace(handle.name, store)
    except OSError:
        Path(handle.name).unlink(missing_ok=True)


def model_identity(model_dir: Path, adapter_dir: Path | None, requested: str) -> dict[str, Any]:
    fingerprint, _ = remembered_fingerprint(model_dir)
    identity: dict[str, Any] = {
        "requested": requested,
        "path": str(model_dir.resolve()),
        "fingerprint": fingerprint,
        "size_bytes": folder_size(model_dir),
    }
    if reusable(model_dir):
        identity["fingerprint_method"] = REUSED
    if adapter_dir is not None:
        identity["adapter"] = str(adapter_dir.resolve())
        identity["adapter_fingerprint"] = fingerprint_directory(adapter_dir)
    return identity
