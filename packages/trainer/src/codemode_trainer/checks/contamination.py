"""Find training user turns that are near-duplicates of eval prompts.

The eval measures routing on phrasings the model has not seen; a training prompt that is the
eval prompt with other punctuation or casing turns it into a memory test. Texts are compared
after normalising case, whitespace and punctuation with ``difflib``'s ratio; its cheap upper
bounds (length ratio, then ``quick_ratio``) skip almost every pair, so a full dataset against a
suite takes well under a second.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from codemode_trainer.errors import DataError
from codemode_trainer.rows import dataset_rows, user_queries

DEFAULT_THRESHOLD = 0.9
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class NearDuplicate:
    """A training user turn (row is 1-based, as in the file) too close to an eval prompt."""

    row: int
    text: str
    case_id: str
    prompt: str
    similarity: float


def normalise(text: str) -> str:
    """Lowercase, punctuation and underscores as spaces, whitespace collapsed."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


class _Prompt:
    """One eval prompt with its matcher; difflib caches its analysis of the second sequence."""

    def __init__(self, case_id: str, prompt: str) -> None:
        self.case_id = case_id
        self.prompt = prompt
        self.text = normalise(prompt)
        self.matcher = SequenceMatcher(None, autojunk=False)
        self.matcher.set_seq2(self.text)

    def similarity(self, text: str, threshold: float) -> float:
        """The ratio, or 0.0 when an upper bound already shows it is below ``threshold``."""
        total = len(text) + len(self.text)
        if not total or 2 * min(len(text), len(self.text)) / total < threshold:
            return 0.0
        self.matcher.set_seq1(text)
        if self.matcher.quick_ratio() < threshold:
            return 0.0
        return self.matcher.ratio()


class PromptIndex:
    """The eval prompts, prepared once, to compare many training texts against."""

    def __init__(self, eval_prompts: Mapping[str, str]) -> None:
        self.prompts = [_Prompt(case_id, text) for case_id, text in eval_prompts.items()]

    def matches(self, text: str, threshold: float) -> list[tuple[_Prompt, float]]:
        """Every eval prompt at least ``threshold`` similar to ``text``."""
        clean = normalise(text)
        found = []
        for prompt in self.prompts:
            similarity = prompt.similarity(clean, threshold)
            if similarity >= threshold:
                found.append((prompt, similarity))
        return found


def check_contamination(
    train_rows: Sequence[Mapping[str, Any]],
    eval_prompts: Mapping[str, str],
    threshold: float = DEFAULT_THRESHOLD,
    *,
    row_numbers: Sequence[int] | None = None,
) -> list[NearDuplicate]:
    """Every (training user turn, eval prompt) pair whose similarity reaches ``threshold``.

    ``eval_prompts`` maps case id to prompt. Rows are numbered 1.. in order unless
    ``row_numbers`` gives their line numbers in the file.
    """
    if not 0.0 < threshold <= 1.0:
        raise DataError(f"--threshold must be in (0, 1], got {threshold}")
    numbers = list(row_numbers) if row_numbers is not None else range(1, len(train_rows) + 1)
    index = PromptIndex(eval_prompts)
    found: list[NearDuplicate] = []
    for number, row in zip(numbers, train_rows, strict=True):
        for text in user_queries(row):
            for prompt, similarity in index.matches(text, threshold):
                found.append(NearDuplicate(number, text, prompt.case_id, prompt.prompt, similarity))
    return found


def split_allowed(
    found: Iterable[NearDuplicate], allowed: Iterable[str]
) -> tuple[list[NearDuplicate], list[NearDuplicate]]:
    """(errors, allowed): a near-duplicate of an explicitly allowed case id is not an error."""
    allow = set(allowed)
    errors = [item for item in found if item.case_id not in allow]
    return errors, [item for item in found if item.case_id in allow]


def closest_pairs(
    train_rows: Sequence[Mapping[str, Any]],
    eval_prompts: Mapping[str, str],
    top: int = 3,
    *,
    row_numbers: Sequence[int] | None = None,
) -> list[tuple[float, int, str, str]]:
    """The ``top`` most similar (similarity, row, case id, text) pairs, for a report's context.

    The running ``top``-th best similarity serves as the prefilter's threshold, so most pairs
    are still skipped without computing their ratio.
    """
    numbers = list(row_numbers) if row_numbers is not None else range(1, len(train_rows) + 1)
    index = PromptIndex(eval_prompts)
    best: list[tuple[float, int, str, str]] = []
    for number, row in zip(numbers, train_rows, strict=True):
        for text in user_queries(row):
            clean = normalise(text)
            for prompt in index.prompts:
                bar = best[-1][0] if len(best) >= top else 1e-9
                ratio = prompt.similarity(clean, bar)
                if ratio > bar or (ratio and len(best) < top):
                    best.append((round(ratio, 4), number, prompt.case_id, text))
                    best.sort(key=lambda item: (-item[0], item[1]))
                    del best[top:]
    return best


def contamination_summary(
    files: Sequence[Path], suite_path: Path, threshold: float, allow: Sequence[str]
) -> tuple[str, int]:
    """``data contamination``: every near-duplicate (errors unless allowed) and the closest."""
    from pytest_codemode_eval.suite import load_suite

    prompts = {case.id: case.prompt for case in load_suite(suite_path).cases}
    unknown = sorted(set(allow) - set(prompts))
    if unknown:
        raise DataError(f"--allow names unknown case id(s): {', '.join(unknown)}")
    lines, errors = [], 0
    for path in files:
        numbered = dataset_rows(path)
        rows, numbers = [row for _, row in numbered], [number for number, _ in numbered]
        found = check_contamination(rows, prompts, threshold, row_numbers=numbers)
        bad, allowed = split_allowed(found, allow)
        errors += len(bad)
        queries = sum(len(user_queries(row)) for row in rows)
        lines.append(
            f"{path}: {queries} user turns in {len(rows)} rows vs {len(prompts)} eval "
            f"prompts (threshold {threshold}): {len(bad)} near-duplicate(s), "
            f"{len(allowed)} allowed"
        )
        for item, label in [*((i, "error") for i in bad), *((i, "allowed") for i in allowed)]:
            lines.append(
                f"  {label}: row {item.row} ~ {item.case_id} ({item.similarity:.3f}): "
                f"{item.text!r} vs {item.prompt!r}"
            )
        for ratio, row, case_id, text in closest_pairs(rows, prompts, 3, row_numbers=numbers):
            lines.append(f"  closest: row {row} ~ {case_id} ({ratio:.3f}): {text[:90]!r}")
    return "\n".join(lines), errors
