"""Root conftest: keep pytest out of the fixture workspace.

`evalsuite/workspace/` is the project the eval prompts talk about, with its own tests for the
`pytest_run` tool; they belong to that project, not to ours, so they are never collected here.
"""

collect_ignore = ["evalsuite/workspace"]
