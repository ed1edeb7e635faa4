"""Per-endpoint figures of an openai run: who answered what, who failed, how fast.

Computed from the case results alone (each carries the endpoint that answered it and the ones
that failed while holding it), so a run under xdist, where every worker has its own fleet, adds
up exactly like a serial one. Rendering is here too: the table is small and only fleets need it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_codemode_eval.aggregate import CaseResult
from pytest_codemode_eval.safe_text import markdown_code, markdown_text


@dataclass(frozen=True)
class EndpointStats:
    url: str
    cases: int = 0  # samples it answered
    errors: int = 0  # of those, the ones that ended in an error (e.g. a refused request)
    failures: int = 0  # samples it held when it failed; each went to another endpoint
    left_rotation: str | None = None  # why it was taken out of rotation (first failure seen)
    generated_tokens: int = 0  # over the answered samples whose server reported usage
    seconds: float = 0.0  # the request time of those samples

    @property
    def tokens_per_second(self) -> float | None:
        """Per request: concurrent requests overlap, so the server's throughput is higher."""
        return self.generated_tokens / self.seconds if self.seconds > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "cases": self.cases,
            "errors": self.errors,
            "failures": self.failures,
            "left_rotation": self.left_rotation,
            "generated_tokens": self.generated_tokens,
            "seconds": round(self.seconds, 3),
            "tokens_per_second": self.tokens_per_second,
        }


def listed_endpoints(identity: Mapping[str, Any]) -> list[str]:
    """The endpoints the identity names: a fleet's list, or the one base URL."""
    model = identity.get("model") or {}
    if isinstance(model.get("endpoints"), list):
        return [str(e.get("url")) for e in model["endpoints"] if isinstance(e, Mapping)]
    return [str(model["base_url"])] if model.get("base_url") else []


def endpoint_stats(
    cases: Sequence[CaseResult], identity: Mapping[str, Any]
) -> tuple[EndpointStats, ...]:
    """One row per endpoint, in the order the run listed them (then any other seen)."""
    urls = dict.fromkeys(listed_endpoints(identity))
    for case in cases:
        urls.update(dict.fromkeys(f["url"] for f in case.endpoint_failures))
        if case.endpoint is not None:
            urls.setdefault(case.endpoint)
    return tuple(_stats(url, cases) for url in urls)


def _stats(url: str, cases: Sequence[CaseResult]) -> EndpointStats:
    answered = [case for case in cases if case.endpoint == url]
    timed = [case for case in answered if case.generated_tokens is not None]
    reasons = [f["error"] for case in cases for f in case.endpoint_failures if f["url"] == url]
    return EndpointStats(
        url=url,
        cases=len(answered),
        errors=sum(1 for case in answered if case.finish == "error"),
        failures=len(reasons),
        left_rotation=reasons[0] if reasons else None,
        generated_tokens=sum(case.generated_tokens or 0 for case in timed),
        seconds=sum(case.seconds for case in timed),
    )


def unanswered(cases: Sequence[CaseResult]) -> int:
    """Samples no endpoint answered this run: from the output cache, or none was left."""
    return sum(1 for case in cases if case.endpoint is None)


def worth_a_table(rows: Sequence[EndpointStats]) -> bool:
    """Only a fleet, or a run where an endpoint failed, needs the table in its report."""
    return len(rows) > 1 or any(row.failures for row in rows)


def _rate(row: EndpointStats) -> str:
    rate = row.tokens_per_second
    return "—" if rate is None else f"{rate:.1f}"


def render_endpoint_markdown(rows: Sequence[EndpointStats], cases: Sequence[CaseResult]) -> str:
    lines = [
        "## Endpoints",
        "",
        "| Endpoint | Cases answered | Errors | Failed over | Tokens/s | Left the rotation |",
        "|----------|----------------|--------|-------------|----------|-------------------|",
    ]
    for row in rows:
        left = markdown_text(row.left_rotation) if row.left_rotation else "—"
        lines.append(
            f"| {markdown_code(row.url)} | {row.cases} | {row.errors} | {row.failures} | "
            f"{_rate(row)} | {left} |"
        )
    lines += ["", _footnote(cases)]
    return "\n".join(lines)


def render_endpoint_terminal(rows: Sequence[EndpointStats], cases: Sequence[CaseResult]) -> str:
    table = [("Endpoint", "cases", "errors", "failed over", "tok/s", "left the rotation")]
    for row in rows:
        cells = (str(row.cases), str(row.errors), str(row.failures), _rate(row))
        table.append((row.url, *cells, row.left_rotation or "-"))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in table
    ]
    return "\n".join([*lines, _footnote(cases)])


def _footnote(cases: Sequence[CaseResult]) -> str:
    note = (
        "Failed over: samples an endpoint held when it failed, each answered once elsewhere. "
        "Tokens/s: generated tokens over request time, per request."
    )
    if unanswered(cases):
        note += f" {unanswered(cases)} sample(s) had no endpoint: from the cache, or none was left."
    return note
