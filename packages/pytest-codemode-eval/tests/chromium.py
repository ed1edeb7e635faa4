"""A real browser for the HTML report's tests: headless Chromium's DOM after scripts ran, and
screenshots.

`--dump-dom` cannot click, so the page reads its filters from the URL fragment
(`report.html#verdict=prose`). A virtual time budget lets the page's chunked rendering finish
before the DOM is printed. Each call gets its own profile folder, so parallel runs (xdist, other
jobs on the machine) never share one.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
VIRTUAL_TIME_MS = 20_000  # page time, not wall time: the page's timers all fire within it
HANG_GUARD_S = 180  # only so a wedged browser cannot hang the run; never a speed check


def chromium_or_skip() -> str:
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "no Chromium found (tried chromium, chromium-browser, google-chrome): .ci/run installs "
        "Debian's `chromium` package; elsewhere install it to run the browser tests"
    )


def _run(browser: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    profile.mkdir(parents=True, exist_ok=True)
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--mute-audio", f"--user-data-dir={profile}",
        f"--virtual-time-budget={VIRTUAL_TIME_MS}", *arguments,
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=HANG_GUARD_S, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def dump_dom(browser: str, url: str, profile: Path) -> str:
    """The page's DOM, serialised after its scripts ran."""
    return _run(browser, profile, "--dump-dom", url).stdout


def screenshot(browser: str, url: str, out: Path, profile: Path, size: str = "1400,1000") -> Path:
    _run(browser, profile, f"--screenshot={out}", f"--window-size={size}", url)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no PNG written to {out}"
    return out


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class Dom(HTMLParser):
    """Every element of a dumped DOM with its attributes and its own text (entities decoded)."""

    VOID = frozenset({"meta", "input", "img", "br", "hr", "link", "col", "area", "source", "wbr"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].text.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and (cls is None or cls in e.classes)]

    def by_id(self, element_id: str) -> list[Element]:
        return [e for e in self.elements if e.attrs.get("id") == element_id]

    def text_of(self, tag: str, cls: str | None = None) -> list[str]:
        return ["".join(e.text) for e in self.find(tag, cls)]
