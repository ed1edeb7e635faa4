"""metrics.toml round-trips, renders as the reference "Training Metrics" table, and plots."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from codemode_trainer.jobs.metrics import (
    Metrics,
    MetricsError,
    format_bytes,
    format_seconds,
    plot_losses,
    read_metrics,
    render_metrics_markdown,
    write_metrics,
)
from codemode_trainer.rows import hash_data_dir

METRICS = Metrics(
    seed=7,
    fine_tune_type="lora",
    iterations=650,
    data_hash="0123456789abcdef",
    base_model="/models/qwen3-8b",
    base_model_fingerprint="fedcba9876543210",
    stage_seconds={"data": 1.5, "preflight": 0.25, "train": 2640.0, "fuse": 41.0, "quantize": 55.5},
    train_losses=tuple((i, 2.0 / (1 + i / 50)) for i in range(10, 660, 10)),
    val_losses=tuple((i, 1.5 / (1 + i / 50)) for i in range(0, 651, 50)),
    peak_memory_bytes=9_073_000_000,
    trainable_parameters=9_699_000,
    total_parameters=8_190_735_000,
    tokens_per_second=1234.5,
    sizes={"adapters": 38_900_000, "fused": 16_400_000_000, "quantized": 5_300_000_000},
    quantization={"bits": 5, "group_size": 64, "mode": "affine"},
)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "metrics.toml"
    write_metrics(path, METRICS)
    assert read_metrics(path) == METRICS
    text = path.read_text()
    assert "[loss.validation]\n0 = 1.5\n50 = 0.75\n" in text  # one short line per point
    assert "share = 0.0011841" in text
    assert 'final = "quantized"' in text


def test_derived_values() -> None:
    assert METRICS.final_val_loss == METRICS.val_losses[-1][1]
    assert METRICS.final_train_loss == METRICS.train_losses[-1][1]
    assert METRICS.trainable_share == pytest.approx(9.699 / 8190.735)
    assert METRICS.total_seconds == pytest.approx(2738.25)
    assert METRICS.final_model == "quantized"


def test_markdown_table(snapshot: SnapshotAssertion) -> None:
    masked = dataclasses.replace(  # times vary run to run: masked to fixed values
        METRICS, stage_seconds=dict.fromkeys(METRICS.stage_seconds, 12.0)
    )
    text = render_metrics_markdown(masked)
    assert text == snapshot
    assert "| LoRA params | 9.699M / 8190.735M = 0.118% |" in text
    assert text.count("| Val loss at iter") == 8  # 14 points, thinned to 8 with both ends
    assert "| Val loss at iter 0 |" in text
    assert "| Val loss at iter 650 |" in text


def test_full_fine_tune_without_quantize_reports_the_fused_model() -> None:
    full = dataclasses.replace(
        METRICS,
        fine_tune_type="full",
        trainable_parameters=500,
        total_parameters=500,
        sizes={"adapters": 10, "fused": 2_000_000},
        quantization={},
        stage_seconds={"train": 75.0},
    )
    text = render_metrics_markdown(full)
    assert "| Trainable params (full) | 0.001M / 0.001M = 100.000% |" in text
    assert "| Final model size | 2.0 MB (fused) |" in text
    assert "| Training time | 1 min 15 s (650 iterations, full) |" in text
    assert "Fuse time" not in text


def test_formats() -> None:
    assert format_seconds(44.2) == "44.2 s"
    assert format_seconds(44 * 60) == "44 min 00 s"
    assert format_seconds(2 * 3600 + 5 * 60) == "2 h 05 min"
    assert format_bytes(9_073_000_000) == "9.073 GB"
    assert format_bytes(415_481) == "415.5 kB"
    assert format_bytes(12) == "12 B"


def test_plot_writes_a_png(tmp_path: Path) -> None:
    path = tmp_path / "loss.png"
    plot_losses(METRICS, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_data_hash_changes_with_the_data(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text('{"messages": []}\n')
    first = hash_data_dir(tmp_path)
    assert first == hash_data_dir(tmp_path)
    assert len(first) == 16
    (tmp_path / "valid.jsonl").write_text('{"messages": []}\n')
    assert hash_data_dir(tmp_path) != first


def test_unreadable_metrics_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(MetricsError, match="metrics file not found"):
        read_metrics(tmp_path / "metrics.toml")
    (tmp_path / "metrics.toml").write_text("schema = 1\nseed = 0\n")
    with pytest.raises(MetricsError, match=r"missing key 'time'"):
        read_metrics(tmp_path / "metrics.toml")
