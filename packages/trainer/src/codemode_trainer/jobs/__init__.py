"""Jobs over a run folder: the pipeline, the checkpoint sweep, the demo and their metrics."""
