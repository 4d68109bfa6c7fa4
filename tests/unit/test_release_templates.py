"""A release's templates render sandboxed: the known Jinja2 escape shapes fail validation, at their line,
without running (a marker file the payload would create never appears)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from picf.models.release import Job
from picf.releases import templates
from picf.releases.release_dir import ReleaseInvalid, read_release, template_context

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "releases" / "logfwd"

# Each one tries to run `touch MARKER` on the controller by a different road out of the template.
ESCAPES = {
    "cycler globals": "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "joiner globals": "{{ joiner.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "namespace globals": "{{ namespace.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "lipsum globals": "{{ lipsum.__globals__['os'].popen('touch MARKER').read() }}",
    "class mro subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "class by item": "{{ ''['__class__']['__mro__'] }}",
    "function globals of p": "{{ p.__globals__['os'].popen('touch MARKER').read() }}",
    "attribute of a function": "{{ p.func_globals }}",
    "attribute of a function, by attr filter": "{{ p | attr('__globals__') }}",
    "self reference": "{{ self.__init__.__globals__ }}",
    "range builtin": "{% for i in range(10) %}{{ i }}{% endfor %}",
    "dict builtin": "{{ dict(a=1) }}",
    "config": "{{ config.items() }}",
    "request": "{{ request.application.__globals__ }}",
    "format string reaching a dunder": "{{ '{0.__class__}'.format(spec) }}",
    "include another file": "{% include '/etc/passwd' %}",
    "unknown filter": "{{ spec.name | pprint }}",
}


def _job() -> Job:
    return Job.model_validate({"name": "j", "templates": {"t.j2": "config/t"}, "monit": "monit.j2", "properties":
                               {"x.port": {"default": 7070}}})  # fmt: skip


def _render(tmp_path: Path, text: str) -> str:
    path = tmp_path / "t.j2"
    path.write_text(text.replace("MARKER", str(tmp_path / "ran")))
    context = template_context(_job(), {}, {"name": "pi-1", "address": "10.0.0.1", "index": 0})
    return templates.render(templates.environment(), path, context)


@pytest.mark.parametrize("shape", sorted(ESCAPES))
def test_an_escape_shape_is_refused_at_its_line_without_running(tmp_path: Path, shape: str) -> None:
    with pytest.raises(templates.TemplateRefused) as caught:
        _render(tmp_path, "port {{ p('x.port') }}\n" + ESCAPES[shape] + "\n")
    assert str(caught.value).startswith(f"{tmp_path / 't.j2'}:2: template uses ")
    assert str(caught.value).endswith(", which release templates may not")
    assert not (tmp_path / "ran").exists()


def test_an_escape_in_a_branch_never_taken_is_refused_too(tmp_path: Path) -> None:
    with pytest.raises(templates.TemplateRefused, match=r"t.j2:3: template uses the name 'cycler'"):
        _render(tmp_path, "a\n{% if false %}\n{{ cycler.__init__ }}\n{% endif %}\n")


def test_what_bosh_style_templates_use_still_renders(tmp_path: Path) -> None:
    text = (
        '{"port": {{ p("x.port") }}, "node": "{{ spec.name | upper }}", "other": {{ p("y", 3) | int }},\n'
        '{% set hosts = ["a", "b"] %}"hosts": {{ hosts | join(",") | tojson }},\n'
        '{% for k, v in {"k": 1}.items() %}"{{ k }}": {{ v }}{% if not loop.last %},{% endif %}{% endfor %}}\n'
    )
    assert _render(tmp_path, text) == '{"port": 7070, "node": "PI-1", "other": 3,\n"hosts": "a,b",\n"k": 1}\n'


def test_a_release_with_an_escape_fails_validation_and_nothing_runs(tmp_path: Path) -> None:
    release = tmp_path / "logfwd"
    shutil.copytree(EXAMPLE, release)
    config = release / "jobs/logfwd/config.json.j2"
    marker = tmp_path / "ran"
    config.write_text(config.read_text() + "{{ cycler.__init__.__globals__.os.popen('touch " + f"{marker}') }}}}\n")
    with pytest.raises(ReleaseInvalid) as caught:
        read_release(release)
    lines = len(config.read_text().splitlines())
    assert f"{config}:{lines}:1: (top level): template uses the name 'cycler', which release templates may not" in [
        str(p) for p in caught.value.problems
    ]
    assert not marker.exists()
