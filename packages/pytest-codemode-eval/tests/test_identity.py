"""A large model's fingerprint is hashed once and reused while its files are unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_codemode_eval.identity import (
    ModelNotFound,
    default_store,
    fingerprint_directory,
    model_folder_lacks,
    model_identity,
    remembered_fingerprint,
    resolve_model_path,
)


def model_folder(root: Path) -> Path:
    folder = root / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "qwen3"}')
    (folder / "model.safetensors").write_bytes(b"weights" * 100)
    return folder


def test_small_folders_are_always_hashed_and_nothing_is_stored(tmp_path: Path) -> None:
    folder, store = model_folder(tmp_path), tmp_path / "store.json"
    assert remembered_fingerprint(folder, store) == (fingerprint_directory(folder), None)
    assert not store.exists()


def test_a_large_folder_is_hashed_once_then_reused(tmp_path: Path) -> None:
    folder, store = model_folder(tmp_path), tmp_path / "cache" / "store.json"
    first, hashed_now = remembered_fingerprint(folder, store, reuse_from_bytes=0)
    assert (first, hashed_now) == (fingerprint_directory(folder), None)
    again, hashed_at = remembered_fingerprint(folder, store, reuse_from_bytes=0)
    assert again == first
    assert hashed_at is not None
    assert str(folder.resolve()) in json.loads(store.read_text())


def test_changed_weights_are_hashed_again(tmp_path: Path) -> None:
    folder, store = model_folder(tmp_path), tmp_path / "store.json"
    before, _ = remembered_fingerprint(folder, store, reuse_from_bytes=0)
    weights = folder / "model.safetensors"
    stat = weights.stat()
    weights.write_bytes(b"WEIGHTS" * 100)  # same size
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    after, hashed_at = remembered_fingerprint(folder, store, reuse_from_bytes=0)
    assert (after, hashed_at) == (fingerprint_directory(folder), None)
    assert after != before


def test_a_broken_or_unwritable_store_only_means_hashing(tmp_path: Path) -> None:
    folder = model_folder(tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert remembered_fingerprint(folder, broken, reuse_from_bytes=0)[1] is None
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    result = remembered_fingerprint(folder, blocked / "store.json", reuse_from_bytes=0)
    assert result == (fingerprint_directory(folder), None)


def test_the_store_lives_where_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEMODE_CACHE_DIR", str(tmp_path / "c"))
    assert default_store() == tmp_path / "c" / "fingerprints.json"
    monkeypatch.delenv("CODEMODE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_store() == tmp_path / "xdg" / "codemode-eval" / "fingerprints.json"


def test_identity_of_a_small_model_has_no_reuse_note(tmp_path: Path) -> None:
    identity = model_identity(model_folder(tmp_path), None, "model")
    assert "fingerprint_method" not in identity


def test_a_model_folder_is_recognised_part_by_part(tmp_path: Path) -> None:
    """The one recogniser the eval, preflight and training share names the first missing part."""
    folder = tmp_path / "m"
    assert model_folder_lacks(folder) == "folder"
    folder.mkdir()
    assert model_folder_lacks(folder) == "config.json"
    (folder / "config.json").write_text("{}")
    assert model_folder_lacks(folder) == "weights"
    (folder / "model.safetensors").write_bytes(b"")
    assert model_folder_lacks(folder) == "tokenizer"
    (folder / "vocab.json").write_text("{}")
    assert model_folder_lacks(folder) is None
    with pytest.raises(ModelNotFound, match=r"no config\.json"):
        resolve_model_path(str(tmp_path))
    assert resolve_model_path(str(folder)) == folder
