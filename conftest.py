"""Root conftest: keep pytest out of the fixture workspace, and test without the output cache.

`evalsuite/workspace/` is the project the eval prompts talk about, with its own tests for the
`pytest_run` tool; they belong to that project, not to ours, so they are never collected here.

Tests compare fresh generations (serial vs batched vs xdist): an output-cache hit would make them
agree vacuously. The cache's own tests turn it on with `--codemode-cache=DIR` (the command line
beats the environment); pytester's subprocesses inherit this.
"""

import os

collect_ignore = ["evalsuite/workspace"]
os.environ["CODEMODE_CACHE"] = "off"
