"""Command-line options, their ini twins, and their resolution into one frozen object.

Precedence (as pytest-timeout): command line > environment (CODEMODE_*) > ini > default. Options
are resolved once in pytest_configure and kept in `config.stash`; nothing re-reads raw strings.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from pytest_codemode_eval.output_cache import OFF, default_cache_dir

OPTIONS_KEY = pytest.StashKey["CodemodeOptions"]()
BACKENDS = ("replay", "mlx", "openai")
GATE_MODES = ("point", "interval")
TOOL_CHOICES = ("auto", "none")


@dataclass(frozen=True)
class Option:
    name: str  # dest and ini name, e.g. codemode_backend
    help: str
    kind: str = "string"  # string | path | bool | float | int | urls (one or more)
    choices: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return self.name.upper()

    @property
    def argparse_help(self) -> str:
        """argparse formats help with %: a literal one ("95% interval") must be doubled."""
        return self.help.replace("%", "%%")


OPTIONS = (
    Option("codemode_backend", "where outputs come from", choices=BACKENDS),
    Option(
        "codemode_suite",
        "suite.toml of the suite to run: case files of other suites are not collected",
        "path",
    ),
    Option("codemode_targets", "targets.toml with pre-registered targets and baseline", "path"),
    Option(
        "codemode_replay", "JSONL file of recorded outputs for --codemode-backend=replay", "path"
    ),
    Option("codemode_record", "write every case's raw output to this JSONL file", "path"),
    Option("codemode_report", "write the markdown report to this file", "path"),
    Option("codemode_results", "write all results as JSON to this file", "path"),
    Option(
        "codemode_html",
        "write one self-contained HTML file to browse every case, its output and the comparison",
        "path",
    ),
    Option("codemode_gate", "exit status from the targets alone: 0 all met, 1 any missed", "bool"),
    Option(
        "codemode_gate_mode",
        "point: the registered point targets (with --codemode-gate); interval: 0 when every "
        "95% interval clears its target, 1 when any falls below, 6 when some are inconclusive "
        "(gates on its own)",
        choices=GATE_MODES,
    ),
    Option(
        "codemode_baseline",
        "results JSON of an earlier run: compare case by case (flips, paired interval, McNemar)",
        "path",
    ),
    Option(
        "codemode_fail_on_regression",
        "exit status 1 when the comparison with --codemode-baseline says overall: worse",
        "bool",
    ),
    Option(
        "codemode_repeats",
        "generate every case K times (seeds derived from --codemode-seed); pass^k per case",
        "int",
    ),
    Option(
        "codemode_cache",
        "output cache folder, or 'off' (default ~/.cache/codemode-eval/outputs): a rerun after "
        "a crash regenerates only what is missing",
        "string",
    ),
    Option(
        "codemode_dry_run",
        "run the code of every execute_code call in the pydantic-monty sandbox and score the "
        "tool calls it really makes",
        "bool",
    ),
    Option("codemode_time_budget", "seconds per case, overrides the suite (default 13.5)", "float"),
    Option("codemode_max_tokens", "generated tokens per case, overrides the suite", "int"),
    Option("codemode_model", "model directory or hub id for --codemode-backend=mlx", "string"),
    Option("codemode_adapter", "unfused LoRA adapter directory for the mlx backend", "path"),
    Option("codemode_temperature", "sampling temperature (default 0: greedy)", "float"),
    Option("codemode_seed", "random seed for sampling", "int"),
    Option(
        "codemode_batch_size",
        "cases generated at once (mlx: one continuous batch; openai: requests in flight)",
        "int",
    ),
    Option(
        "codemode_base_url",
        "OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1; several (repeat the option or "
        "separate by commas) share the cases, each with --codemode-batch-size requests in flight",
        "urls",
    ),
    Option("codemode_api_model", "model name to request from the server", "string"),
    Option(
        "codemode_tool_choice",
        "tool_choice sent with every request (openai backend; unset: none sent). vLLM started "
        "without --enable-auto-tool-choice answers raw text only with 'none'",
        choices=TOOL_CHOICES,
    ),
    Option("codemode_api_key", "API key for the server (or CODEMODE_API_KEY)", "string"),
)


@dataclass(frozen=True)
class CodemodeOptions:
    backend: str | None = None
    suite: Path | None = None
    targets: Path | None = None
    replay: Path | None = None
    record: Path | None = None
    report: Path | None = None
    results: Path | None = None
    html: Path | None = None
    gate: bool = False
    gate_mode: str = "point"
    baseline: Path | None = None
    fail_on_regression: bool = False
    repeats: int = 1
    dry_run: bool = False
    cache: str | None = None

    @property
    def cache_dir(self) -> Path | None:
        """Where outputs are cached; None when `--codemode-cache=off`."""
        if self.cache is not None and self.cache.strip().lower() == OFF:
            return None
        return Path(self.cache).expanduser().resolve() if self.cache else default_cache_dir()

    time_budget: float | None = None
    max_tokens: int | None = None
    model: str | None = None
    adapter: Path | None = None
    temperature: float = 0.0
    seed: int | None = None
    batch_size: int = 1
    base_url: tuple[str, ...] = ()  # several: a fleet (backends/fleet.py)
    api_model: str | None = None
    tool_choice: str | None = None
    api_key: str | None = None

    @property
    def in_flight(self) -> int:
        """Cases one process generates at once: the batch size, per endpoint for a fleet."""
        if self.backend == "openai":
            return self.batch_size * max(len(self.base_url), 1)
        return self.batch_size

    @property
    def gating(self) -> bool:
        """Whether the targets decide the exit status: `--codemode-gate` or the interval mode."""
        return self.gate or self.gate_mode == "interval"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("codemode", "Code Mode evaluation")
    for option in OPTIONS:
        if option.kind == "bool":
            group.addoption(
                option.flag,
                action="store_true",
                default=None,
                dest=option.name,
                help=option.argparse_help,
            )
            group.addoption(  # so the command line can override an ini file that turned it on
                "--no-" + option.flag[2:], action="store_false", dest=option.name,
                help=f"turn off {option.flag}",
            )  # fmt: skip
        else:
            group.addoption(
                option.flag,
                dest=option.name,
                default=None,
                help=option.argparse_help,
                metavar="URL" if option.kind == "urls" else "VALUE",
                action="append" if option.kind == "urls" else "store",
            )
        if option.kind == "bool":
            parser.addini(option.name, option.help, type="bool", default=None)
        else:
            parser.addini(option.name, option.help, type="string", default=None)


def resolve_options(config: pytest.Config) -> CodemodeOptions:
    """Read every option once, convert it, and fail with a UsageError that names the source."""
    values: dict[str, Any] = {}
    ini_base = config.inipath.parent if config.inipath else config.rootpath
    for option in OPTIONS:
        raw, source, base = _raw_value(config, option, ini_base)
        if raw is None:
            continue
        values[option.name.removeprefix("codemode_")] = _convert(option, raw, source, base)
    if "temperature" in values and values["temperature"] < 0:
        raise pytest.UsageError("--codemode-temperature must be >= 0")
    for name in ("batch_size", "repeats"):
        if name in values and values[name] < 1:
            raise pytest.UsageError(f"--codemode-{name.replace('_', '-')} must be >= 1")
    options = CodemodeOptions(**values)
    _check_combination(options)
    return options


def _raw_value(config: pytest.Config, option: Option, ini_base: Path) -> tuple[Any, str, Path]:
    cli = config.getoption(option.name)
    if cli is not None:
        return cli, option.flag, config.invocation_params.dir
    if option.env in os.environ:
        return os.environ[option.env], f"${option.env}", config.invocation_params.dir
    ini = config.getini(option.name)
    if ini not in (None, "", []):
        return ini, f"ini {option.name}", ini_base
    return None, "", ini_base


def _convert(option: Option, raw: Any, source: str, base: Path) -> Any:
    if option.kind == "bool":
        if isinstance(raw, bool):
            return raw
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    if option.kind == "urls":
        return _split_urls(raw, source)
    text = str(raw).strip()
    if option.choices and text not in option.choices:
        raise pytest.UsageError(f"{source}: {text!r} is not one of {', '.join(option.choices)}")
    if option.kind == "path":
        return (base / Path(text).expanduser()).resolve()
    if option.kind in {"int", "float"}:
        try:
            number = int(text) if option.kind == "int" else float(text)
        except ValueError:
            raise pytest.UsageError(f"{source}: expected a number, got {text!r}") from None
        if not math.isfinite(number):
            raise pytest.UsageError(f"{source}: expected a finite number, got {text!r}")
        if option.name in {"codemode_time_budget", "codemode_max_tokens"} and number <= 0:
            raise pytest.UsageError(f"{source}: must be positive, got {text!r}")
        return number
    return text


def _check_combination(options: CodemodeOptions) -> None:
    if options.backend == "replay" and options.replay is None:
        raise pytest.UsageError("--codemode-replay FILE is required with --codemode-backend=replay")
    if options.backend == "replay" and options.replay and not options.replay.is_file():
        raise pytest.UsageError(f"--codemode-replay: file not found: {options.replay}")
    if options.backend == "replay" and options.replay:
        _check_replay(options.replay, options.repeats)
    if options.backend == "mlx" and not options.model:
        raise pytest.UsageError("--codemode-model PATH is required with --codemode-backend=mlx")
    if options.backend == "mlx" and options.model:
        from pytest_codemode_eval.identity import ModelNotFound, check_model_argument

        try:
            check_model_argument(options.model, options.adapter)
        except ModelNotFound as exc:
            raise pytest.UsageError(f"--codemode-model: {exc}") from None
    if options.backend == "openai" and not options.base_url:
        raise pytest.UsageError(
            "--codemode-base-url URL is required with --codemode-backend=openai"
        )
    for url in options.base_url:
        _check_url(url)
    if options.suite is not None and not options.suite.is_file():
        raise pytest.UsageError(f"--codemode-suite: file not found: {options.suite}")
    if options.targets is not None and not options.targets.is_file():
        raise pytest.UsageError(f"targets file not found: {options.targets}")
    for name in ("report", "results", "html", "record"):
        path = getattr(options, name)
        if path is not None:
            _check_writable(path, f"--codemode-{name}")
    if options.fail_on_regression and options.baseline is None:
        raise pytest.UsageError(
            "--codemode-fail-on-regression needs --codemode-baseline RESULTS.json to compare with"
        )


def _split_urls(raw: Any, source: str) -> tuple[str, ...]:
    """`--codemode-base-url` given once or more, each holding one URL or several separated by
    commas (or whitespace, in an ini file); each URL once."""
    values = raw if isinstance(raw, list) else [raw]
    urls = tuple(u.rstrip("/") for v in values for u in str(v).replace(",", " ").split())
    twice = sorted({url for url in urls if urls.count(url) > 1})
    if twice:
        raise pytest.UsageError(f"{source}: {', '.join(twice)} listed more than once")
    return urls


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise pytest.UsageError(
            f"--codemode-base-url: {url!r} is not an http(s) URL; expected e.g. "
            "http://127.0.0.1:8080/v1"
        )


def _check_writable(path: Path, flag: str) -> None:
    """An output file that cannot be written is found now, not after every case has run."""
    if path.is_dir():
        raise pytest.UsageError(f"{flag}: {path} is a directory; expected a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise pytest.UsageError(
            f"{flag}: cannot create the folder {path.parent}: {exc.strerror}"
        ) from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise pytest.UsageError(f"{flag}: {path} is not writable")


def _check_replay(path: Path, repeats: int) -> None:
    """A bad replay line spoils every case: one usage error now, not the same failure per case."""
    from pytest_codemode_eval.backends.replay import read_replay
    from pytest_codemode_eval.errors import SuiteError

    try:
        recorded = read_replay(path)
    except SuiteError as exc:
        raise pytest.UsageError(f"--codemode-replay: {exc}") from None
    short = [case_id for case_id, outputs in recorded.items() if len(outputs) < repeats]
    if short:
        listed = ", ".join(short[:5]) + (f" and {len(short) - 5} more" if len(short) > 5 else "")
        raise pytest.UsageError(
            f"--codemode-replay: {path}: --codemode-repeats={repeats} needs {repeats} outputs "
            f"per case (one line each, in order); too few for {listed}"
        )


def option_names() -> list[str]:
    return [f.name for f in fields(CodemodeOptions)]
