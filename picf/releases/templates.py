"""Render a release's job templates without letting them run code on the controller.

A release is something people download, and picf renders its templates as the user who runs it (often root).
Templates render in Jinja2's `ImmutableSandboxedEnvironment` and see only what a BOSH-style template needs:
`p("property")`, `spec`, and a short list of filters. Before anything renders, each template is checked as
written (every branch, taken or not): a name, filter, test or attribute outside that list fails validation
with `file:line: template uses X, which release templates may not`. At render time the sandbox refuses the
same things again, and any attribute of a function (`p.__globals__`, `p.func_code`).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from picf.errors import PicfError

# What a BOSH-style template uses: turn values into text, pick defaults, join lists, quote JSON.
FILTERS = ("default", "d", "join", "lower", "upper", "trim", "replace", "int", "float", "string", "length",
           "count", "first", "last", "list", "sort", "unique", "reverse", "tojson", "indent", "min", "max", "sum",
           "abs", "round", "items", "dictsort", "capitalize", "title", "center", "truncate", "wordwrap")  # fmt: skip
_DATA = (str, int, float, bool, list, tuple, dict)
NAMES = frozenset({"p", "spec", "loop", "true", "false", "none", "True", "False", "None"})


class TemplateRefused(PicfError):
    """A template reaches for something release templates may not use (it was not rendered)."""

    def __init__(self, file: str, line: int, what: str) -> None:
        super().__init__(f"{file}:{line}: template uses {what}, which release templates may not")
        self.file, self.line, self.what = file, line, what


class TemplateFailed(PicfError):
    """A template that does not render (a syntax error, a missing property)."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.detail = file, line, message


_FUNCTIONS = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, type)


class _ReleaseEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with nothing callable but `p` and nothing reachable from a function."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, _FUNCTIONS):
            raise SecurityError(f"the attribute {attribute!r} of a function")
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, _FUNCTIONS):
            raise SecurityError(f"the item {argument!r} of a function")
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return attr[:1] != "_" and super().is_safe_attribute(obj, attr, value)

    def is_safe_callable(self, obj: Any) -> bool:
        if getattr(obj, "__picf_template_callable__", False) is True:  # p()
            return super().is_safe_callable(obj)
        # Methods of plain data (`p("x").items()`, `spec.name.upper()`); the immutable sandbox already
        # refuses the ones that change a list or a dict.
        owner = getattr(obj, "__self__", None)
        return (isinstance(obj, types.BuiltinMethodType) and isinstance(owner, _DATA)
                and super().is_safe_callable(obj))  # fmt: skip


def environment() -> jinja2.Environment:
    """A fresh environment for release templates: strict about undefined values, sandboxed, no globals."""
    env = _ReleaseEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in FILTERS}
    return env


def template_callable(function: Callable[..., Any]) -> Callable[..., Any]:
    """Mark `function` as one templates may call (`p`)."""
    function.__picf_template_callable__ = True  # type: ignore[attr-defined]
    return function


def check(env: jinja2.Environment, source: str, file: str) -> None:
    """Refuse, before rendering, a template that names anything outside what release templates may use."""
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateFailed(file, exc.lineno, f"template syntax: {exc.message}") from None
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    refused = [(node.lineno, what) for node in tree.find_all(nodes.Node) if (what := _refused(node, env, local))]
    if refused:  # the first line's, a name before an attribute (`cycler` before `cycler.__init__`)
        line, what = min(refused, key=lambda r: (r[0], not r[1].startswith("the name")))
        raise TemplateRefused(file, line, what)


def _refused(node: nodes.Node, env: jinja2.Environment, local: set[str]) -> str | None:
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in NAMES | local:
        return f"the name {node.name!r}"
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return f"the attribute {node.attr!r}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith("_"):
        return f"the attribute {node.arg.value!r}"
    if isinstance(node, nodes.Filter) and node.name not in env.filters:
        return f"the filter {node.name!r}"
    if isinstance(node, nodes.Test) and node.name not in env.tests:
        return f"the test {node.name!r}"
    if isinstance(node, nodes.Import | nodes.FromImport | nodes.Include | nodes.Extends):
        return "another template"
    return None


@functools.lru_cache(maxsize=256)
def _compiled(env: jinja2.Environment, source: str, file: str) -> jinja2.Template:
    """Checked and compiled once per environment and text: a deploy renders the same job for every node (a
    refusal is an exception, never cached)."""
    check(env, source, file)
    try:
        return env.from_string(source)
    except jinja2.TemplateError as exc:
        raise TemplateFailed(file, _line(exc), str(exc)) from None


def render(env: jinja2.Environment, path: Path, context: dict[str, Any], name: str | None = None) -> str:
    """Check, then render the template at `path` with `context`; TemplateRefused or TemplateFailed with the
    line. `name` is how messages call the file (default: its path)."""
    file = name or str(path)
    template = _compiled(env, path.read_text(), file)
    try:
        return template.render(context)
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateRefused(file, _line(exc), _what(exc)) from None
    except jinja2.TemplateError as exc:
        raise TemplateFailed(file, _line(exc), str(exc)) from None


def _line(exc: BaseException) -> int:
    """The template line a render error came from (Jinja rewrites tracebacks to template lines)."""
    line = getattr(exc, "lineno", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return int(line or 1)


def _what(exc: BaseException) -> str:
    """The sandbox's refusal in the words of TemplateRefused."""
    text = str(exc)
    if text.startswith("access to attribute "):  # "access to attribute 'x' of 'str' object is unsafe."
        return "the attribute " + text.removeprefix("access to attribute ").split(" is unsafe")[0]
    if "is not safely callable" in text:
        return "a call of " + text.split(" is not safely callable")[0]
    return text
