"""Chat templates, the offline tokenizer and rendering rows exactly as mlx-lm does."""
