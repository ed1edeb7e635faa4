"""Training, fusing, quantizing and building offline models: the only code that imports mlx."""
