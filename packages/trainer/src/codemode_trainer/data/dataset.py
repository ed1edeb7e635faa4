"""Build a seeded Code Mode training set in mlx-lm's chat format and write train/valid JSONL.

Rows carry the eval's own system prompt and ``execute_code`` schema (rendered by the plugin's
one renderer), so a model is trained on exactly the prompt it is evaluated on. The call-syntax
choice only decides how tool-call arguments are stored: a JSON string as OpenAI sends them
(Qwen3 templates print it verbatim) or an object, which Qwen3-Coder's XML template needs.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemode_trainer.chat.templates import CallSyntax, detect_call_syntax
from codemode_trainer.checks.contamination import PromptIndex
from codemode_trainer.data.episodes import EpisodeMaker
from codemode_trainer.data.tools import TOOLS
from codemode_trainer.errors import DataError
from codemode_trainer.files import write_json_atomic
from codemode_trainer.rows import Row, write_jsonl
from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.prompt import renderer_fingerprint
from pytest_codemode_eval.workspace_facts import WorkspaceFacts, scan_workspace

#: Share of episodes per kind. Answered and follow-up episodes give two rows each.
MIX: dict[str, float] = {
    "single": 0.50, "answered": 0.14, "chain": 0.14, "locate": 0.07, "follow_up": 0.09,
    "no_tool": 0.06,
}  # fmt: skip
ONE_ROW_KINDS = ("single", "no_tool")
DEFAULT_AVOID_THRESHOLD = 0.8  # below the contamination check's 0.9, for a safety margin


@dataclass(frozen=True)
class Dataset:
    """Train and valid rows plus what built them; ``write`` gives mlx-lm's folder layout."""

    train: tuple[Row, ...]
    valid: tuple[Row, ...]
    call_syntax: CallSyntax
    seed: int
    fingerprint: str
    kinds: Mapping[str, int] = field(default_factory=dict)
    tool_targets: Mapping[str, int] = field(default_factory=dict)

    def write(self, out: Path) -> tuple[Path, Path]:
        """Write ``train.jsonl``, ``valid.jsonl`` and ``manifest.json`` into ``out``."""
        out.mkdir(parents=True, exist_ok=True)
        train, valid = out / "train.jsonl", out / "valid.jsonl"
        write_jsonl(train, self.train)
        write_jsonl(valid, self.valid)
        manifest = {
            "seed": self.seed,
            "call_syntax": self.call_syntax,
            "train": len(self.train),
            "valid": len(self.valid),
            "renderer_fingerprint": self.fingerprint,
            "episodes": dict(self.kinds),
            "tool_targets": dict(self.tool_targets),
        }
        write_json_atomic(out / "manifest.json", manifest)
        return train, valid


def build_dataset(
    catalog: Catalog,
    *,
    seed: int = 0,
    n_examples: int = 1200,
    valid_fraction: float = 0.1,
    call_syntax: CallSyntax = "json",
    workspace: Path | WorkspaceFacts = Path("evalsuite/workspace"),
    avoid: Mapping[str, str] | None = None,
    avoid_threshold: float = DEFAULT_AVOID_THRESHOLD,
    mix: Mapping[str, float] = MIX,
    plain_code: bool = False,
) -> Dataset:
    """``n_examples`` rows (train + valid), balanced across the catalog's tools, seeded.

    ``avoid`` maps eval case ids to prompts that no generated user text may come close to.
    Same arguments give identical rows. ``mix`` weighs the episode kinds (keys of ``MIX``);
    ``plain_code`` writes every call as ``print(tool(...))``, an easier target for a tiny model.
    """
    unknown = set(mix) - set(MIX)
    if unknown or not any(weight > 0 for weight in mix.values()):
        raise DataError(
            f"mix: unknown kinds {sorted(unknown)} or no positive weight; kinds: {list(MIX)}"
        )
    _check_request(catalog, n_examples, valid_fraction, call_syntax)
    facts = workspace if isinstance(workspace, WorkspaceFacts) else scan_workspace(workspace)
    rng = random.Random(seed)
    maker = EpisodeMaker(
        catalog, facts, rng, call_syntax, PromptIndex(avoid or {}), avoid_threshold, plain_code
    )
    episodes: list[list[Row]] = []
    kinds: Counter[str] = Counter()
    total = 0
    while total < n_examples:
        kind = rng.choices(list(mix), weights=list(mix.values()))[0]
        if n_examples - total == 1 and kind not in ONE_ROW_KINDS:
            kind = "single"
        episode = maker.make(kind)
        episodes.append(episode)
        kinds[kind] += 1
        total += len(episode)
    train, valid = _split(episodes, round(n_examples * valid_fraction), rng)
    return Dataset(
        tuple(train),
        tuple(valid),
        call_syntax,
        seed,
        renderer_fingerprint(catalog),
        dict(sorted(kinds.items())),
        dict(sorted(maker.counts.items())),
    )


def _check_request(
    catalog: Catalog, n_examples: int, valid_fraction: float, call_syntax: str
) -> None:
    missing = [t for t in catalog.tools if t not in TOOLS]
    if missing:
        raise DataError(
            f"no query templates for tool(s): {', '.join(missing)}; each catalog tool needs "
            "an entry in codemode_trainer/data/tools.py"
        )
    if n_examples < 2:
        raise DataError(f"n_examples must be at least 2 (one train, one valid), got {n_examples}")
    if not 0.0 < valid_fraction < 1.0:
        raise DataError(f"valid_fraction must be between 0 and 1, got {valid_fraction}")
    if call_syntax not in ("json", "xml"):
        raise DataError(f"call syntax must be 'json' or 'xml', got {call_syntax!r}")


def _split(
    episodes: Sequence[list[Row]], valid_rows: int, rng: random.Random
) -> tuple[list[Row], list[Row]]:
    """Whole episodes go to one side, so no conversation is in both; rows are shuffled."""
    order = list(range(len(episodes)))
    rng.shuffle(order)
    train: list[Row] = []
    valid: list[Row] = []
    for index in order:
        side = valid if len(valid) < max(1, valid_rows) else train
        side.extend(episodes[index])
    if not train:  # tiny requests: keep at least one row to train on
        train.append(valid.pop())
    rng.shuffle(train)
    rng.shuffle(valid)
    return train, valid


def model_call_syntax(model_dir: Path) -> CallSyntax:
    """The call syntax a model's chat template asks for (``tokenizer_config.json``)."""
    config_path = model_dir / "tokenizer_config.json"
    try:
        config: Any = json.loads(config_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{config_path}: cannot read the chat template ({exc.strerror})") from exc
    except ValueError as exc:
        raise DataError(f"{config_path}: cannot read the chat template ({exc})") from exc
    template = config.get("chat_template") if isinstance(config, dict) else None
    if isinstance(template, list):  # several named templates: use the default one
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or named.get("tool_use")
    if not isinstance(template, str):
        jinja = model_dir / "chat_template.jinja"
        if not jinja.is_file():
            raise DataError(f"{config_path}: no chat_template")
        template = jinja.read_text(encoding="utf-8")
    return detect_call_syntax(template)


def build_for_suite(
    suite_path: Path,
    out: Path,
    *,
    n_examples: int = 1200,
    seed: int = 0,
    valid_fraction: float = 0.1,
    call_syntax: str | None = None,
    model: Path | None = None,
    workspace: Path | None = None,
) -> str:
    """``data build``: a dataset for the suite's catalog and workspace, written to ``out``.

    The call syntax is the model's when ``model`` is given (``auto``, or the default); an
    explicit syntax that contradicts the model's template is refused.
    """
    from pytest_codemode_eval.suite import load_suite

    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a directory; --out is a folder")
    suite = load_suite(suite_path)
    detected = model_call_syntax(model) if model is not None else None
    if call_syntax in (None, "auto"):
        if call_syntax == "auto" and detected is None:
            raise DataError("--call-syntax auto needs --model DIR")
        syntax: CallSyntax = detected or "json"
    elif call_syntax in ("json", "xml"):
        syntax = "json" if call_syntax == "json" else "xml"
        if detected is not None and detected != syntax:
            raise DataError(f"{model} uses {detected} calls, not {syntax}; drop --call-syntax")
    else:
        raise DataError(f"unknown call syntax {call_syntax!r}")
    dataset = build_dataset(
        suite.catalog,
        seed=seed,
        n_examples=n_examples,
        valid_fraction=valid_fraction,
        call_syntax=syntax,
        workspace=workspace or suite_path.parent / "workspace",
        avoid={case.id: case.prompt for case in suite.cases},
    )
    train, valid = dataset.write(out)
    return (
        f"wrote {len(dataset.train)} train rows to {train} and {len(dataset.valid)} valid "
        f"rows to {valid} (call syntax {syntax}, seed {seed})"
    )
