"""The trainer's bad-input matrix: every file and folder a user hands a command x its failures.

Each row runs the CLI entry function in-process and asserts the documented exit status, a single
``codemode-train CMD: error: ...`` line (or, for checks that report problems, the report) naming
the file, line or key, no traceback (an unexpected exception fails the test), and, for training
commands, that the run folder was not claimed. The README's "Bad input / Trainer" table is this
table in prose; keep them in step.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from _toy import tiny_model, write_data

from codemode_trainer.cli import EXIT_FAILED, EXIT_USAGE, main
from pytest_codemode_eval.blas import use_fast_blas

use_fast_blas()  # before anything imports mlx

SUITE = Path(__file__).resolve().parents[3] / "evalsuite" / "suite.toml"
NOISE = ("[transformers]",)  # library notices on stderr that are not ours


@dataclass
class Env:
    """What a case builds its bad input from: a scratch folder, a good model and good data."""

    tmp: Path
    model: Path
    data: Path

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def model_with(self, name: str, content: str | bytes | None) -> Path:
        """A copy of the good model with ``name`` replaced (``None``: removed)."""
        copy = self.tmp / "model"
        shutil.copytree(self.model, copy)
        if content is None:
            (copy / name).unlink()
        elif isinstance(content, bytes):
            (copy / name).write_bytes(content)
        else:
            (copy / name).write_text(content, encoding="utf-8")
        return copy

    def data_with(self, train: str | bytes | None, valid: str | bytes | None = None) -> Path:
        """A data folder with these train.jsonl / valid.jsonl contents (``None``: absent)."""
        folder = self.tmp / "data"
        folder.mkdir()
        for name, content in (("train.jsonl", train), ("valid.jsonl", valid)):
            if content is not None:
                self.file(f"data/{name}", content)
        return folder

    def train(self, *extra: str, model: Path | None = None, data: Path | None = None) -> list[str]:
        return [
            "train",
            "--model",
            str(model or self.model),
            "--data",
            str(data or self.data),
            "--run",
            str(self.tmp / "run"),
            "--batch-size",
            "4",
            "--iters",
            "1",
            *extra,
        ]


Build = Callable[[Env], list[str]]


@dataclass(frozen=True)
class Bad:
    """One row: the argv a bad input gives, the exit status, the words the message must hold."""

    id: str
    argv: Build
    says: tuple[str, ...]
    status: int = EXIT_FAILED
    report: bool = False  # the problem is a finding in the command's report on stdout


def _row(env: Env) -> str:
    return (env.data / "train.jsonl").read_text(encoding="utf-8").splitlines()[0] + "\n"


def _truncated(env: Env) -> bytes:
    return (env.model / "model.safetensors").read_bytes()[:100]


def _short(env: Env) -> bytes:
    whole = (env.model / "model.safetensors").read_bytes()
    return whole[: len(whole) - 1000]  # the header is whole, the last tensor is not


def _config(env: Env, text: str | bytes, name: str = "train.toml") -> list[str]:
    path = env.file(name, text)
    return [
        "train",
        "--config",
        str(path),
        "--model",
        str(env.model),
        "--data",
        str(env.data),
        "--run",
        str(env.tmp / "run"),
    ]


def _validate(path: Path) -> list[str]:
    return ["data", "validate", str(path), "--suite", str(SUITE)]


def _contamination(path: Path, *extra: str) -> list[str]:
    return ["data", "contamination", str(path), "--suite", str(SUITE), *extra]


def _preflight(env: Env, data: Path, *extra: str) -> list[str]:
    return [
        "preflight",
        "--model",
        str(env.model),
        "--data",
        str(data),
        "--suite",
        str(SUITE),
        *extra,
    ]


def _pipeline(env: Env, model: Path, data: Path | None = None) -> list[str]:
    config = env.file("p.toml", f'model = "{model}"\ndata = "{data or env.data}"\niters = 1\n')
    return ["pipeline", "--config", str(config), "--run", str(env.tmp / "run")]


def _fuse(env: Env, adapters: Path, out: str = "out") -> list[str]:
    return [
        "fuse",
        "--model",
        str(env.model),
        "--adapters",
        str(adapters),
        "--out",
        str(env.tmp / out),
    ]


def _adapters(env: Env, config: str = "{}", weights: bytes | None = None) -> Path:
    env.file("adapters/adapter_config.json", config)
    env.file("adapters/adapters.safetensors", weights if weights is not None else _truncated(env))
    return env.tmp / "adapters"


CASES = [
    # --- dataset: data validate / contamination / preflight / train ---
    Bad("validate: empty file", lambda e: _validate(e.file("x.jsonl", "")), ("x.jsonl", "no rows")),
    Bad(
        "validate: missing file",
        lambda e: _validate(e.tmp / "none.jsonl"),
        ("none.jsonl", "file not found"),
    ),
    Bad(
        "validate: not UTF-8",
        lambda e: _validate(e.file("x.jsonl", b"\xff\xfe{}\n")),
        ("not UTF-8",),
        report=True,
    ),
    Bad(
        "validate: line not an object",
        lambda e: _validate(e.file("x.jsonl", "[1, 2]\n")),
        ("a JSON list, not an object",),
        report=True,
    ),
    Bad(
        "contamination: not JSON",
        lambda e: _contamination(e.file("x.jsonl", "not json\n")),
        ("x.jsonl:1", "invalid JSON"),
    ),
    Bad(
        "contamination: empty file",
        lambda e: _contamination(e.file("x.jsonl", "")),
        ("x.jsonl", "no rows"),
    ),
    Bad(
        "contamination: line 2 not an object",
        lambda e: _contamination(e.file("x.jsonl", _row(e) + '"text"\n')),
        ("x.jsonl:2", "a JSON str, not an object"),
    ),
    Bad(
        "contamination: not UTF-8",
        lambda e: _contamination(e.file("x.jsonl", b"\xff\n")),
        ("x.jsonl:1", "not UTF-8"),
    ),
    Bad(
        "contamination: --threshold nan",
        lambda e: _contamination(e.data / "train.jsonl", "--threshold", "nan"),
        ("--threshold", "nan"),
    ),
    Bad(
        "preflight: empty data folder",
        lambda e: _preflight(e, e.data_with(None, None)),
        ("data/train.jsonl", "not found"),
    ),
    Bad(
        "preflight: empty train.jsonl",
        lambda e: _preflight(e, e.data_with("", "")),
        ("data/train.jsonl", "no rows"),
    ),
    Bad(
        "preflight: missing valid.jsonl",
        lambda e: _preflight(e, e.data_with(_row(e), None)),
        ("data/valid.jsonl", "not found"),
    ),
    Bad(
        "preflight: --max-seq-length 0",
        lambda e: _preflight(e, e.data, "--max-seq-length", "0"),
        ("--max-seq-length", "at least 1"),
    ),
    Bad(
        "train: data folder missing",
        lambda e: e.train(data=e.tmp / "none"),
        ("data directory not found", "none"),
    ),
    Bad(
        "train: no train.jsonl",
        lambda e: e.train(data=e.data_with(None, _row(e))),
        ("has no train.jsonl",),
    ),
    Bad(
        "train: empty train.jsonl",
        lambda e: e.train(data=e.data_with("")),
        ("train.jsonl", "no rows"),
    ),
    Bad(
        "train: fewer rows than batch_size",
        lambda e: e.train(data=e.data_with(_row(e) * 3)),
        ("train.jsonl has 3 rows", "fewer than batch_size 4"),
    ),
    Bad(
        "train: line not JSON",
        lambda e: e.train(data=e.data_with(_row(e) * 4 + "{x\n")),
        ("train.jsonl:5", "invalid JSON"),
    ),
    Bad(
        "train: latin-1 bytes",
        lambda e: e.train(data=e.data_with(_row(e).encode() * 4 + b"\xe9\n")),
        ("train.jsonl:5", "not UTF-8"),
    ),
    Bad(
        "train: line not an object",
        lambda e: e.train(data=e.data_with(_row(e) * 4 + "[]\n")),
        ("train.jsonl:5", "a JSON list, not an object"),
    ),
    Bad(
        "pipeline: line not an object",
        lambda e: _pipeline(e, e.model, e.data_with(_row(e) * 4 + "[]\n")),
        ("train.jsonl:5", "a JSON list, not an object"),
    ),
    Bad(
        "train: valid.jsonl not JSON",
        lambda e: e.train(data=e.data_with(_row(e) * 4, "{oops\n")),
        ("valid.jsonl:1", "invalid JSON"),
    ),
    # --- training config ---
    Bad(
        "config: missing file",
        lambda e: ["train", "--config", str(e.tmp / "no.toml"), "--run", str(e.tmp / "run")],
        ("config file not found", "no.toml"),
    ),
    Bad(
        "config: invalid TOML",
        lambda e: _config(e, "iters = = 3\n"),
        ("train.toml", "invalid TOML", "line 1"),
    ),
    Bad(
        "config: not UTF-8",
        lambda e: _config(e, b"iters = 3 # \xff\n"),
        ("train.toml", "not UTF-8"),
    ),
    Bad(
        "config: unknown key",
        lambda e: _config(e, "iterz = 3\n"),
        ("train.toml", "unknown key 'iterz'"),
    ),
    Bad(
        "config: wrong type",
        lambda e: _config(e, 'iters = "ten"\n'),
        ("train.toml", "'iters'", "an integer"),
    ),
    Bad(
        "config: nan",
        lambda e: _config(e, "learning_rate = nan\n"),
        ("train.toml", "'learning_rate'", "nan"),
    ),
    Bad(
        "config: inf",
        lambda e: _config(e, "[lora]\nscale = inf\n"),
        ("train.toml", "'lora.scale'", "inf"),
    ),
    Bad(
        "config: unknown section key",
        lambda e: _config(e, "[lora]\nrnak = 4\n"),
        ("train.toml", "unknown key 'lora.rnak'"),
    ),
    Bad(
        "config: YAML not a mapping",
        lambda e: _config(e, "- 1\n", "train.yaml"),
        ("train.yaml", "must be a mapping"),
    ),
    Bad(
        "config: --learning-rate nan",
        lambda e: e.train("--learning-rate", "nan"),
        ("command line", "'learning_rate'", "nan"),
    ),
    Bad(
        "config: --set lora.rank=0",
        lambda e: e.train("--set", "lora.rank=0"),
        ("command line", "'lora.rank'", "at least 1"),
    ),
    Bad(
        "config: --set without =", lambda e: e.train("--set", "iters"), ("--set expects key=value",)
    ),
    # --- model folder ---
    Bad(
        "model: missing folder",
        lambda e: e.train(model=e.tmp / "none"),
        ("model directory not found", "none"),
    ),
    Bad(
        "model: no config.json",
        lambda e: e.train(model=e.model_with("config.json", None)),
        ("has no config.json", "not a model folder"),
    ),
    Bad(
        "model: config.json not JSON",
        lambda e: e.train(model=e.model_with("config.json", "{")),
        ("config.json", "invalid JSON"),
    ),
    Bad(
        "model: config.json without model_type",
        lambda e: e.train(model=e.model_with("config.json", "{}")),
        ("config.json", "no 'model_type'"),
    ),
    Bad(
        "model: unknown architecture",
        lambda e: e.train(model=e.model_with("config.json", '{"model_type": "nonsense"}')),
        ("config.json", "'nonsense'", "not supported"),
    ),
    Bad(
        "model: no weights",
        lambda e: e.train(model=e.model_with("model.safetensors", None)),
        ("no model*.safetensors weights",),
    ),
    Bad(
        "model: corrupt weights (train)",
        lambda e: e.train(model=e.model_with("model.safetensors", _truncated(e))),
        ("model.safetensors", "corrupt safetensors"),
    ),
    Bad(
        "model: truncated weights (train)",
        lambda e: e.train(model=e.model_with("model.safetensors", _short(e))),
        ("model.safetensors", "corrupt safetensors", "truncated"),
    ),
    Bad(
        "model: garbage weights (train)",
        lambda e: e.train(
            model=e.model_with("model.safetensors", b"\x08" + b"\x00" * 7 + b"x" * 8)
        ),
        ("model.safetensors", "the header is not JSON"),
    ),
    Bad(
        "model: corrupt weights (pipeline)",
        lambda e: _pipeline(e, e.model_with("model.safetensors", _truncated(e))),
        ("model.safetensors", "corrupt safetensors"),
    ),
    Bad(
        "model: corrupt weights (quantize)",
        lambda e: [
            "quantize",
            "--model",
            str(e.model_with("model.safetensors", _truncated(e))),
            "--out",
            str(e.tmp / "q"),
        ],
        ("model.safetensors", "corrupt safetensors"),
    ),
    Bad(
        "model: corrupt weights (fuse)",
        lambda e: [
            "fuse",
            "--model",
            str(e.model_with("model.safetensors", _truncated(e))),
            "--adapters",
            str(e.tmp),
            "--out",
            str(e.tmp / "out"),
        ],
        ("model.safetensors", "corrupt safetensors"),
    ),
    Bad(
        "model: no tokenizer",
        lambda e: e.train(model=e.model_with("tokenizer.json", None)),
        ("no tokenizer",),
    ),
    Bad(
        "model: tokenizer.json not JSON",
        lambda e: e.train(model=e.model_with("tokenizer.json", '{"version": ')),
        ("tokenizer.json", "invalid JSON"),
    ),
    Bad(
        "model: data build --model without a template",
        lambda e: [
            "data",
            "build",
            "--suite",
            str(SUITE),
            "--out",
            str(e.tmp / "d"),
            "--model",
            str(e.model_with("tokenizer_config.json", None)),
        ],
        ("tokenizer_config.json", "cannot read the chat template (No such file"),
    ),
    # --- adapter folder ---
    Bad(
        "adapter: folder without adapters",
        lambda e: _fuse(e, e.tmp / "none"),
        ("adapter folder", "has no adapter_config.json"),
    ),
    Bad(
        "adapter: adapter_config.json not JSON",
        lambda e: _fuse(e, _adapters(e, config="{")),
        ("adapter_config.json", "invalid JSON"),
    ),
    Bad(
        "adapter: corrupt adapters.safetensors",
        lambda e: _fuse(e, _adapters(e)),
        ("adapters.safetensors", "corrupt safetensors"),
    ),
    # --- output and run folders ---
    Bad(
        "run: --run is a file",
        lambda e: [*e.train()[:-6], "--run", str(e.file("run", "x"))],
        ("run", "exists and is not a directory"),
    ),
    Bad(
        "run: --run a foreign folder",
        lambda e: (e.file("run/thesis.tex", ""), e.train())[1],
        ("run", "not empty and not a run folder", "thesis.tex"),
    ),
    Bad(
        "run: --resume with no run",
        lambda e: e.train("--resume"),
        ("--resume", "holds no run to resume"),
    ),
    Bad(
        "output: fuse --out not empty",
        lambda e: (e.file("out/keep.txt", ""), _fuse(e, _adapters(e)))[1],
        ("out", "is not empty", "--force"),
    ),
    Bad(
        "output: quantize --out is a file",
        lambda e: ["quantize", "--model", str(e.model), "--out", str(e.file("q", "x"))],
        ("q", "exists and is not a directory"),
    ),
    Bad(
        "output: init-model OUT not empty",
        lambda e: ["init-model", str((e.file("m/keep.txt", ""), e.tmp / "m")[1])],
        ("m", "--force"),
    ),
    Bad(
        "output: data build --out is a file",
        lambda e: ["data", "build", "--suite", str(SUITE), "--out", str(e.file("d", "x"))],
        ("d", "exists and is not a directory"),
    ),
    Bad(
        "run: metrics of a folder without a run",
        lambda e: ["metrics", str(e.tmp)],
        ("metrics.toml",),
    ),
    Bad(
        "run: sweep of a folder without a run",
        lambda e: ["sweep", "--run", str(e.tmp / "none"), "--suite", str(SUITE)],
        ("none",),
    ),
    # --- options ---
    Bad(
        "option: data build --n 0",
        lambda e: ["data", "build", "--suite", str(SUITE), "--out", str(e.tmp / "d"), "--n", "0"],
        ("n_examples", "at least 2"),
    ),
    Bad(
        "option: data build --valid-fraction nan",
        lambda e: [
            "data",
            "build",
            "--suite",
            str(SUITE),
            "--out",
            str(e.tmp / "d"),
            "--valid-fraction",
            "nan",
        ],
        ("valid_fraction", "nan"),
    ),
    Bad(
        "option: train without --run",
        lambda e: ["train", "--model", str(e.model)],
        ("--run",),
        status=EXIT_USAGE,
    ),
]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("good")
    return tiny_model(base / "model"), write_data(base / "data", n_train=8, n_valid=4)


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        return int(exit_.code or 0)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_line_naming_the_culprit(
    case: Bad, good: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = Env(tmp_path, *good)
    argv = case.argv(env)
    run = tmp_path / "run"
    run_existed = run.exists()
    capsys.readouterr()
    status = _run(argv)
    out, err = capsys.readouterr()
    assert status == case.status, (out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line and not line.startswith(NOISE)]
    if case.report:
        assert all(word in out for word in case.says), out
    elif case.status == EXIT_USAGE:
        assert lines[-1].startswith("codemode-train")
        assert "error:" in lines[-1]
        assert all(word in lines[-1] for word in case.says), lines
    else:
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"codemode-train {argv[0]}")
        assert ": error: " in lines[0]
        assert all(word in lines[0] for word in case.says), lines[0]
    if not run_existed:
        assert not run.exists(), "the run folder was claimed for input that could not run"
