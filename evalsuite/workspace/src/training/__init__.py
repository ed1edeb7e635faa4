"""LoRA fine-tuning of the base model on Code Mode transcripts."""

from src.training.lora_config import LoRAConfig, load_lora_config
from src.training.train_runner import TrainingResult, run_training

__all__ = ["LoRAConfig", "TrainingResult", "load_lora_config", "run_training"]
