"""Figures derived from loss curves and parameter counts, shared by a training result and the
run's metrics so the two can never compute them differently."""

from __future__ import annotations


class LossFigures:
    """Mixin for records that hold `train_losses`, `val_losses` and parameter counts."""

    train_losses: tuple[tuple[int, float], ...]
    val_losses: tuple[tuple[int, float], ...]
    trainable_parameters: int
    total_parameters: int

    @property
    def final_train_loss(self) -> float | None:
        return self.train_losses[-1][1] if self.train_losses else None

    @property
    def final_val_loss(self) -> float | None:
        return self.val_losses[-1][1] if self.val_losses else None

    @property
    def trainable_share(self) -> float:
        return self.trainable_parameters / self.total_parameters if self.total_parameters else 0.0
