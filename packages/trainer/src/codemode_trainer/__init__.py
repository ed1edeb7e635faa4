"""Training side of codemode-eval: data -> preflight -> train -> fuse -> quantize -> metrics.

Layers, lowest first; a module imports only from its own layer or a lower one (never upwards,
never in a circle; ``tests/test_import_layers.py`` enforces it):

    base       errors, files, config, rows, run_dir, model_files, figures (modules at this level)
    chat       chat templates, the tokenizer builder, rendering rows as mlx-lm does
    checks     static code checks, validation, contamination, preflight
    data       building training data from the catalog (phrasings, arguments, code, episodes)
    training   train, progress, fuse, quantize, the offline model, ranks under mlx.launch; only
               `training/_mlx` imports mlx
    jobs       pipeline (and its plan for the other ranks), sweep, demo, the evaluation they share
               and the run metrics
    cli        ``codemode-train``: parses arguments and calls one job or step
"""
