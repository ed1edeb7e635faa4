"""The main job end to end, offline: build a base model, generate data from the catalog, train,
fuse, quantize to 5 bits, evaluate the untrained base and the trained model on the suite, and
print both scores, the category table and the training metrics.

A newcomer's first run has to show the whole loop working on a laptop CPU with no download, and
that the model visibly learns: the untrained base scores ~0%, the trained model far above it.

    DEMO/
      suite/         the suite as the demo presents it (compact prompt, see below)
      base/          the random-initialised base model (tokenizer trained on the data)
      train/         the pipeline's run folder (data/, adapters/, fused/, quantized/, metrics)
      eval/base/     results.json, report.md of the untrained base
      eval/trained/  results.json, report.md of the trained, quantized model
      report.md      the trained model's report with the training metrics and the comparison
      report.html    the trained model's run to browse offline: every case, output and flip

Training cost on a CPU grows with the square of the sequence length, and the suite's full system
prompt (stubs with docstrings and result types, plus the execute_code schema through the chat
template) is ~1,600 tokens for a tiny tokenizer: a tiny model needs a few minutes for each hundred
iterations on such rows. The demo therefore evaluates a copy of the suite with
`prompt_style = "minimal"` and `native_tools = false` (~60 tokens of instructions, the way many
published Code Mode training sets prompt a model fine-tuned on its tools): the same 27 cases,
catalog and targets, the same one renderer for training and evaluation.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import tomli_w

from codemode_trainer.checks.preflight import preflight_for_suite
from codemode_trainer.config import QuantizeConfig, TrainConfig
from codemode_trainer.data.dataset import Dataset, build_dataset
from codemode_trainer.files import write_text_atomic
from codemode_trainer.jobs.evaluation import evaluate, read_comparison
from codemode_trainer.jobs.metrics import render_metrics_markdown
from codemode_trainer.jobs.pipeline import PipelineError, run_pipeline
from codemode_trainer.run_dir import RunDir
from codemode_trainer.training.init_model import init_model
from pytest_codemode_eval.prompt import render_system_prompt
from pytest_codemode_eval.suite import Suite, load_suite

# Measured to learn the call format and most tool choices in a few minutes on 2 CPU cores.
DEMO_TRAINING = TrainConfig(
    fine_tune_type="full",  # from random init, so everything trains (LoRA needs a trained base)
    learning_rate=3e-3,
    iters=400,
    batch_size=16,
    max_seq_length=4096,
    steps_per_report=10,
    steps_per_eval=50,
    val_batches=4,
    save_every=50,
    quantize=QuantizeConfig(bits=5, group_size=64),
)


HELDOUT_SUITE = Path("heldout") / "suite.toml"  # the larger suite, nested in the reference folder
HELDOUT_BATCH = 8  # 250 cases decoded 8 at a time (greedy outputs equal one by one)

# Mostly one call per request, printed plainly, plus chains and no-tool answers: a 0.5 M-parameter
# model learns which tool a request names in minutes from this, not from varied multi-turn code.
DEMO_MIX = {"single": 0.8, "chain": 0.1, "no_tool": 0.1}


@dataclass(frozen=True)
class DemoDir:
    """The demo's folder and its layout (the pipeline owns `train/`)."""

    root: Path

    @property
    def suite(self) -> Path:
        return self.root / "suite" / "suite.toml"

    @property
    def base(self) -> Path:
        return self.root / "base"

    @property
    def train(self) -> RunDir:
        return RunDir(self.root / "train")

    def eval(self, label: str) -> Path:
        return self.root / "eval" / label

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def html(self) -> Path:
        return self.root / "report.html"


@dataclass(frozen=True)
class DemoResult:
    base_score: float
    trained_score: float
    seconds: float
    report: Path
    html: Path

    @property
    def learned(self) -> bool:
        return self.trained_score > self.base_score


def tokenizer_corpus(suite: Suite, dataset: Dataset) -> Iterator[str]:
    """Text the tokenizer learns from: the rendered prompt once per row, as the model sees it."""
    system = render_system_prompt(suite.catalog)
    for row in (*dataset.train, *dataset.valid):
        yield system
        for message in row.get("messages", [])[1:]:
            if message.get("content"):
                yield str(message["content"])
            for call in message.get("tool_calls") or []:
                yield json.dumps(call.get("function", {}))
    yield from (case.prompt for case in suite.cases)


def run_demo(
    root: Path,
    suite_path: Path,
    *,
    preset: str = "tiny",
    n_examples: int = 1200,
    config: TrainConfig = DEMO_TRAINING,
    out: TextIO = sys.stdout,
    eval_args: Sequence[str] = (),
) -> DemoResult:
    """`eval_args`: extra pytest options for every evaluation (tests cap the token budget)."""
    started = time.perf_counter()
    demo = DemoDir(root)
    if root.exists() and any(root.iterdir()):
        raise PipelineError(f"demo folder {root} is not empty; choose a new one")
    workspace = suite_path.parent / "workspace"
    suite_path = minimal_suite(suite_path, demo.suite)
    suite = load_suite(suite_path)
    say = _printer(out, started)
    say(f"building {n_examples} training rows from the catalog of {suite.name}")
    dataset = build_dataset(
        suite.catalog, seed=config.seed, n_examples=n_examples,
        workspace=workspace, avoid={case.id: case.prompt for case in suite.cases},
        mix=DEMO_MIX, plain_code=True,
    )  # fmt: skip
    say(f"building the offline base model ({preset}) with a tokenizer trained on that data")
    init_model(demo.base, preset, corpus=tokenizer_corpus(suite, dataset), seed=config.seed)
    base_score = evaluate(
        demo.base, suite_path, demo.eval("base"), out, quiet=True, extra=eval_args
    )
    say(f"untrained base model: {base_score * 100:.1f}% overall")
    trained = dataclasses.replace(config, model=str(demo.base))
    metrics = run_pipeline(
        trained, demo.train.root,
        data_step=lambda _config, data: _write(dataset, data),
        preflight_step=lambda c, model, data: _preflight(model, data, suite_path, c, say),
        progress=out, command="codemode-train demo",
    )  # fmt: skip
    say(f"evaluating the trained {config.quantize.bits}-bit model")
    trained_score = evaluate(
        demo.train.quantized, suite_path, demo.eval("trained"), out, quiet=False,
        baseline=demo.eval("base") / "results.json", extra=eval_args,
    )  # fmt: skip
    _evaluate_heldout(demo, out, say, eval_args)
    metrics_md = render_metrics_markdown(metrics) if metrics else ""
    paired = read_comparison(demo.eval("trained") / "results.json")
    comparison = _comparison(base_score, trained_score, config.quantize.bits, paired)
    _write_reports(demo, metrics_md, comparison, out)
    say(f"every case, its output and its flip to browse offline: {demo.html.absolute()}")
    seconds = time.perf_counter() - started
    say(f"demo finished in {seconds:.0f} s; everything is in {root}")
    return DemoResult(base_score, trained_score, seconds, demo.report, demo.html)


def _evaluate_heldout(demo: DemoDir, out: TextIO, say: Any, eval_args: Sequence[str]) -> None:
    """Both models on the held-out suite, when the suite folder nests one."""
    heldout = demo.suite.parent / HELDOUT_SUITE
    if not heldout.is_file():
        return
    say(f"evaluating both models on the held-out suite ({heldout.parent.name})")
    batched = (*eval_args, f"--codemode-batch-size={HELDOUT_BATCH}")
    evaluate(demo.base, heldout, demo.eval("base-heldout"), out, quiet=True, extra=batched)
    evaluate(
        demo.train.quantized, heldout, demo.eval("trained-heldout"), out, quiet=False,
        baseline=demo.eval("base-heldout") / "results.json", extra=batched,
    )  # fmt: skip


def _write_reports(demo: DemoDir, metrics_md: str, comparison: str, out: TextIO) -> None:
    """``report.md``: the trained model's report, the training metrics and the comparison;
    ``report.html`` beside it; the metrics and the comparison printed too."""
    report = (demo.eval("trained") / "report.md").read_text(encoding="utf-8")
    held_out_report = demo.eval("trained-heldout") / "report.md"
    held_out = (
        f"\nThe held-out suite's report: {held_out_report.relative_to(demo.root)}\n"
        if held_out_report.is_file()
        else ""
    )
    write_text_atomic(
        demo.report,
        report + "\n## Training Metrics\n\n" + metrics_md + "\n" + comparison + "\n" + held_out,
    )
    shutil.copyfile(demo.eval("trained") / "report.html", demo.html)
    print("\n## Training Metrics\n\n" + metrics_md, file=out)
    print(comparison, file=out)


def minimal_suite(source: Path, dest: Path) -> Path:
    """Copy a suite (without its workspace) with the minimal prompt; returns the new suite.toml.

    A suite nested in its folder (the held-out suite) gets the minimal prompt too."""
    ignore = shutil.ignore_patterns("workspace", "replays", "__pycache__")
    shutil.copytree(source.parent, dest.parent, ignore=ignore)
    for suite_file in [dest, *sorted(dest.parent.glob("*/suite.toml"))]:
        data = tomllib.loads(suite_file.read_text(encoding="utf-8"))
        header = data["suite"]
        header |= {"prompt_style": "minimal", "native_tools": False}
        header["name"] = f"{header['name']}-minimal"
        suite_file.write_text(tomli_w.dumps(data), encoding="utf-8")
    return dest


def _write(dataset: Dataset, data: Path) -> None:
    dataset.write(data)


def _preflight(model: Path, data: Path, suite_path: Path, config: TrainConfig, say: Any) -> None:
    report = preflight_for_suite(model, data, suite_path, config.max_seq_length)
    say(report.render())
    if not report.ok:
        raise PipelineError("preflight failed; see the problems above")


def _comparison(base: float, trained: float, bits: int, paired: dict[str, Any] | None) -> str:
    verdict = "learned" if trained > base else "did NOT learn"
    text = (
        "## Untrained vs trained\n\n"
        "| Model | Overall |\n|-------|---------|\n"
        f"| untrained base | {base * 100:.1f}% |\n"
        f"| trained, fused, {bits}-bit | {trained * 100:.1f}% |\n\n"
        f"The model {verdict}: {base * 100:.1f}% → {trained * 100:.1f}%."
    )
    if paired is None:
        return text
    overall = paired["overall"]
    low, high = overall["ci95"]
    flips = paired["flips"]
    improved = sum(1 for flip in flips if flip["direction"] == "improved")
    return text + (
        f" Paired, case by case over {overall['n']} cases: {improved} improved, "
        f"{len(flips) - improved} regressed; Δ {overall['delta'] * 100:+.1f} points "
        f"[{low * 100:+.1f}, {high * 100:+.1f}], McNemar p = {overall['mcnemar_p']:.3g}, "
        f"verdict: **{overall['verdict']}** (the flips are in the report above)."
    )


def _printer(out: TextIO, started: float) -> Any:
    def say(message: str) -> None:
        print(f"[demo {time.perf_counter() - started:5.0f}s] {message}", file=out, flush=True)

    return say
