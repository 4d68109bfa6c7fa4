"""Render BOSH job templates with real Ruby ERB, in picf's sandbox, many at once.

A template is code (Ruby runs whatever `<% %>` holds), and releases are downloaded: `render.rb` runs in the
build sandbox (no network, its own namespaces, nothing of the file system writable, no home directory), under
a memory limit, with a time limit per template and one for the whole run. One Ruby process renders every
template of a request: a deploy pays for one Ruby start, not one per template or node.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picf.errors import PicfError
from picf.releases import sandbox

RENDERER = Path(__file__).with_name("render.rb")
PER_TEMPLATE_SECONDS = 10
MEMORY_LIMIT = 2 << 30


class RubyMissing(PicfError):
    """Ruby is not installed."""


class TemplateError(PicfError):
    """A template that did not render: `FILE:LINE: message` (the director's `Error filling in template`)."""

    def __init__(self, file: str, line: int | None, detail: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {detail}")
        self.file, self.line, self.detail = file, line, detail


@dataclass(frozen=True)
class Template:
    """One template's text, and the name messages call it by (`JOB/SRC`, `JOB/monit`)."""

    name: str
    source: str


@dataclass(frozen=True)
class Rendered:
    """One render's outcome: the text, or the error."""

    text: str | None = None
    error: TemplateError | None = None

    def value(self) -> str:
        if self.error is not None:
            raise self.error
        assert self.text is not None
        return self.text


def check_available() -> None:
    if shutil.which("ruby") is None:
        raise RubyMissing("ruby is not installed: BOSH job templates are Ruby ERB; run `make setup` "
                          "(or apt-get install ruby)")  # fmt: skip


def render(
    templates: Sequence[Template],
    contexts: Sequence[dict[str, Any]],
    renders: Sequence[tuple[int, int]],
    per_template: float = PER_TEMPLATE_SECONDS,
) -> list[Rendered]:
    """Render each (template index, context index) of `renders`; a context is `{"properties", "spec",
    "links"}`. One result per render, in order; a template that fails is a result, not an exception (one that
    kills Ruby too: the renders after it are done by a new Ruby)."""
    if not renders:
        return []
    check_available()
    results: list[Rendered] = []
    while len(results) < len(renders):
        done, stopped = _run(templates, contexts, renders[len(results) :], per_template)
        results += done
        if stopped is not None:
            name = templates[renders[len(results)][0]].name
            results.append(
                Rendered(
                    error=TemplateError(name, None, f"the template renderer stopped while rendering it ({stopped})")
                )
            )
    return results


def _run(
    templates: Sequence[Template],
    contexts: Sequence[dict[str, Any]],
    renders: Sequence[tuple[int, int]],
    per_template: float,
) -> tuple[list[Rendered], str | None]:
    """One Ruby run: the results it gave, and why it stopped early (None when it did not)."""
    request = {
        "templates": [{"name": t.name, "source": t.source} for t in templates],
        "contexts": list(contexts),
        "renders": [list(r) for r in renders],
        "timeout": per_template,
    }
    box = sandbox.Sandbox(writable=(), readable=(RENDERER,))
    limited = ["prlimit", f"--as={MEMORY_LIMIT}", "--", "ruby", "--disable-gems", str(RENDERER)]
    argv = sandbox.command(limited, Path("/tmp"), {"LANG": "C.UTF-8"}, box)
    budget = 30 + per_template * len(renders) / 10
    try:
        done = subprocess.run(argv, input=json.dumps(request, default=str), capture_output=True, text=True,
                              timeout=budget, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise PicfError(f"rendering {len(renders)} template(s) took more than {budget:.0f} s; stopped") from None
    results: list[Rendered] = []
    for (template_index, _), line in zip(renders, done.stdout.splitlines(), strict=False):
        name = templates[template_index].name
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            return results, "its answer was garbled"
        if "out" in answer:
            results.append(Rendered(text=str(answer["out"])))
        else:
            results.append(Rendered(error=TemplateError(name, answer.get("line"), str(answer.get("error")))))
    if not results and done.returncode != 0 and (refused := sandbox.did_not_start(done.stderr)) is not None:
        raise refused
    if len(results) < len(renders):
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return results, why if done.returncode >= 0 else f"killed by signal {-done.returncode}"
    return results, None
