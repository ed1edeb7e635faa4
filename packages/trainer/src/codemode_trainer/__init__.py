"""Training side of codemode-eval: data -> preflight -> train -> fuse -> quantize -> metrics."""
