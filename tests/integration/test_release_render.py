"""BOSH job templates rendered by real Ruby ERB in picf's sandbox, as the director renders them.

What a template sees (`p`, `if_p`, `link`, `if_link`, `spec`, `properties`, the Ruby the director has loaded), how
manifest properties are bound to a job's spec, how failures read (one `FILE:LINE: message (instance)` line each),
what the sandbox keeps a template from doing, and one Ruby run rendering hundreds of instances. Fixtures are jobs
in the director's shapes: a job `spec`, a `monit` file, `templates/`, link content as the director builds it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from picf.errors import PicfError
from picf.releases.render import erb
from picf.releases.render.binding import (
    PropertyError,
    bind_properties,
    instance_id,
    instance_spec,
    link_properties,
    undeclared,
)
from picf.releases.render.templates import Instance, JobTemplates, RenderFailed, render_instances

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "releases" / "logfwd"
TARBALL = REPO / "tests" / "data" / "releases" / "logfwd-0.1.0.tgz"

DEMO_SPEC = """\
---
name: demo

description: A job whose templates read what the BOSH director gives them.

templates:
{templates}

packages: []

consumes:
- name: backend
  type: backend
- name: cache
  type: cache
  optional: true

provides:
- name: demo
  type: demo
  properties:
  - demo.port

properties:
  demo.port:
    description: Port the demo listens on
    default: 8080
  demo.host:
    description: Host of the backend (no default)
  demo.enabled:
    description: Whether the demo serves
    default: true
  demo.legacy_port:
    description: The old name of demo.port (no default)
  demo.listen:
    description: Addresses to listen on
    default: ["0.0.0.0", "::"]
  demo.plugins:
    description: Plugins to load
    default: []
  demo.tags:
    description: Extra tags on every line the demo logs
    default: {}
  demo.env:
    description: Extra environment for the demo
    default: {}
  demo.token:
    description: A shared secret (a deployment variable; no default)
  demo.db.user:
    description: Database user
    default: admin
  demo.db.password:
    description: Database password (no default)
"""

BACKEND_SPEC = """\
---
name: backend

templates: {}

provides:
- name: backend
  type: backend
  properties:
  - backend.port
  - backend.tls

properties:
  backend.port:
    description: Port the backend listens on
    default: 5432
  backend.tls:
    description: Whether clients must use TLS
    default: false
  backend.admin_password:
    description: Not shared over the link
"""

# The demo job's properties as a manifest gives them (`instance_groups[].jobs[].properties`).
MANIFEST: dict[str, Any] = {
    "demo": {
        "host": "db.internal",
        "enabled": False,
        "tags": {"zone": "a", "app": "web"},
        "db": {"password": "pa ss'$word"},
    }
}
BACKEND_MANIFEST: dict[str, Any] = {"backend": {"port": 6432, "admin_password": "hunter2"}}


def demo_job(templates: dict[str, str], monit: str = "check process demo\n") -> JobTemplates:
    """The demo job with these templates (source under templates/ -> text), each going to `config/<name>`."""
    listing = "\n".join(f"  {src}: {destination(src)}" for src in templates) or "  {}"
    files = {"spec": DEMO_SPEC.replace("{templates}", listing).encode(), "monit": monit.encode()}
    files.update({f"templates/{src}": text.encode() for src, text in templates.items()})
    return JobTemplates.from_files(files, "jobs/demo")


def destination(src: str) -> str:
    return f"config/{src.removesuffix('.erb')}"


def ip_of(index: int) -> str:
    return f"10.0.{index // 100}.{index % 100 + 10}"


def id_of(index: int, group: str = "web") -> str:
    return instance_id("cf", group, f"pi-{index + 1}")


def backend_link(manifest: dict[str, Any] = BACKEND_MANIFEST) -> dict[str, Any]:
    """The `backend` link as the director hands it to a consumer: two instances of group `db`."""
    spec = JobTemplates.from_files({"spec": BACKEND_SPEC.encode()}, "jobs/backend").spec
    return {
        "deployment_name": "cf",
        "domain": "bosh",
        "default_network": "default",
        "instance_group": "db",
        "properties": link_properties(spec.provides[0], spec, manifest),
        "instances": [
            {"name": "db", "index": 0, "id": id_of(0, "db"), "az": "z1", "address": "10.0.1.20", "bootstrap": True},
            {"name": "db", "index": 1, "id": id_of(1, "db"), "az": "z2", "address": "10.0.1.21", "bootstrap": False},
        ],
    }


def instance(
    job: JobTemplates,
    *,
    index: int = 1,
    manifest: dict[str, Any] = MANIFEST,
    links: dict[str, Any] | None = None,
    label: str = "",
) -> Instance:
    """Instance `index` of group `web` in deployment `cf`, on node pi-<index+1>, in AZ z1."""
    spec = instance_spec(deployment="cf", group="web", index=index, node=f"pi-{index + 1}", ip=ip_of(index),
                         address=f"{id_of(index)}.web.default.cf.bosh", az="z1",
                         release=("demo", "1.2.3"))  # fmt: skip
    return Instance(job, bind_properties(job.spec, manifest), spec,
                    {"backend": backend_link()} if links is None else links, label)  # fmt: skip


def render(source: str, **kwargs: Any) -> str:
    """One template rendered for one instance of the demo job."""
    return render_instances([instance(demo_job({"t.erb": source}), **kwargs)])[0].files["config/t"]


def problems(templates: dict[str, str], monit: str = "check process demo\n", **kwargs: Any) -> tuple[str, ...]:
    """The problem lines of a render that must fail."""
    with pytest.raises(RenderFailed) as caught:
        render_instances([instance(demo_job(templates, monit), **kwargs)])
    return caught.value.problems


# 1. The evaluation context ------------------------------------------------------------------------------------

P_CASES = {
    "p reads a property the manifest sets": ('<%= p("demo.host") %>', "db.internal"),
    "p falls back to the spec default": ('<%= p("demo.port") %>', "8080"),
    "p with a default uses it for a property without value": ('<%= p("demo.legacy_port", 9) %>', "9"),
    "p with a nil default returns nil": ('<%= p("demo.legacy_port", nil).inspect %>', "nil"),
    "p with a false default returns false": ('<%= p("demo.legacy_port", false).inspect %>', "false"),
    "false is a value, not replaced by the default": ('<%= p("demo.enabled", true).inspect %>', "false"),
    "p with a list returns the first non-nil": ('<%= p(["demo.legacy_port", "demo.port"]) %>', "8080"),
    "p with a list prefers the first name": ('<%= p(["demo.host", "demo.port"]) %>', "db.internal"),
    "p with a list and a default": ('<%= p(["demo.legacy_port", "demo.token"], "none") %>', "none"),
    "properties is an OpenStruct": ("<%= properties.demo.db.user %>@<%= properties.demo.host %>", "admin@db.internal"),
    "properties of an unset property is nil": ("<%= properties.demo.legacy_port.inspect %>", "nil"),
}

IF_P_CASES = {
    "if_p yields every value": (
        '<% if_p("demo.host", "demo.port") do |host, port| %><%= host %>:<%= port %><% end %>',
        "db.internal:8080",
    ),
    "if_p yields false, which is a value": (
        '<% if_p("demo.enabled") do |on| %>enabled=<%= on %><% end %>',
        "enabled=false",
    ),
    "if_p skips its block when one value is nil": (
        '<% if_p("demo.host", "demo.legacy_port") do |host, port| %>yielded<% end %>',
        "",
    ),
    "else runs when if_p did not yield": (
        '<% if_p("demo.legacy_port") do |port| %>legacy <%= port %>'
        '<% end.else do %>port <%= p("demo.port") %><% end %>',
        "port 8080",
    ),
    "else is skipped when if_p yielded": (
        '<% if_p("demo.port") do |port| %>port <%= port %><% end.else do %>none<% end %>',
        "port 8080",
    ),
    "else_if_p tries the next properties": (
        '<% if_p("demo.legacy_port") do |port| %>legacy<% end.else_if_p("demo.db.user", "demo.port") do |user, port| %>'
        "<%= user %>:<%= port %><% end.else do %>none<% end %>",
        "admin:8080",
    ),
    "else_if_p and else are skipped after an earlier branch": (
        '<% if_p("demo.port") do |port| %>first<% end.else_if_p("demo.host") do |host| %>second'
        "<% end.else do %>third<% end %>",
        "first",
    ),
    "else_if_link yields the link": (
        '<% if_p("demo.legacy_port") do |port| %>port<% end.else_if_link("backend") do |backend| %>'
        "<%= backend.instances.size %> backends<% end.else do %>none<% end %>",
        "2 backends",
    ),
    "else_if_link falls through to else without the link": (
        '<% if_p("demo.legacy_port") do |port| %>port<% end.else_if_link("cache") do |cache| %>cache'
        "<% end.else do %>none<% end %>",
        "none",
    ),
}

SPEC_CASES = {
    "spec.name is the instance group": ("<%= spec.name %>", "web"),
    "spec.job.name is the instance group too": ("<%= spec.job.name %>", "web"),
    "name is the instance group": ("<%= name %>", "web"),
    "index and spec.index": ("<%= index %> <%= spec.index %>", "1 1"),
    "spec.id": ("<%= spec.id %>", id_of(1)),
    "spec.az": ("<%= spec.az %>", "z1"),
    "spec.address": ("<%= spec.address %>", f"{id_of(1)}.web.default.cf.bosh"),
    "spec.ip": ("<%= spec.ip %>", ip_of(1)),
    "spec.deployment": ("<%= spec.deployment %>", "cf"),
    "spec.networks.default.ip": ("<%= spec.networks.default.ip %>", ip_of(1)),
    "spec.networks.methods(false) lists the networks": ("<%= spec.networks.methods(false) %>", "[:default]"),
    "the first network through methods(false)": (
        "<%= spec.networks.send(spec.networks.methods(false).first).ip %>",
        ip_of(1),
    ),
    "spec.networks.default.dns_record_name": ("<%= spec.networks.default.dns_record_name %>", "1.web.default.cf.bosh"),
    "spec.release": ("<%= spec.release.name %>/<%= spec.release.version %>", "demo/1.2.3"),
    "spec.dns_domain_name and spec.persistent_disk": (
        "<%= spec.dns_domain_name %> <%= spec.persistent_disk %>",
        "bosh 0",
    ),
    "spec.properties": ("<%= spec.properties.demo.host %>", "db.internal"),
}

LINK_CASES = {
    "link instances carry name, index, id, az, address, bootstrap": (
        '<% link("backend").instances.each do |i| -%>\n'
        '<%= [i.name, i.index, i.id, i.az, i.address, i.bootstrap].join(" ") %>\n'
        "<% end -%>\n",
        f"db 0 {id_of(0, 'db')} z1 10.0.1.20 true\ndb 1 {id_of(1, 'db')} z2 10.0.1.21 false\n",
    ),
    "link p reads the provider's manifest value": ('<%= link("backend").p("backend.port") %>', "6432"),
    "link p falls back to the provider's spec default": ('<%= link("backend").p("backend.tls") %>', "false"),
    "link p with a default for a property the link does not carry": (
        '<%= link("backend").p("backend.admin_password", "not shared") %>',
        "not shared",
    ),
    "link if_p": ('<% link("backend").if_p("backend.port") do |port| %>port=<%= port %><% end %>', "port=6432"),
    "link if_p else": (
        '<% link("backend").if_p("backend.admin_password") do |pw| %><%= pw %><% end.else do %>no password<% end %>',
        "no password",
    ),
    "link address is the bootstrap instance's": ('<%= link("backend").address %>', "10.0.1.20"),
    "link address in an AZ": ('<%= link("backend").address(azs: ["z2"]) %>', "10.0.1.21"),
    "a link instance's p needs a default": (
        '<%= link("backend").instances.first.p("backend.port", "unset") %>',
        "unset",
    ),
    "if_link yields the link": (
        '<% if_link("backend") do |b| %><%= b.instances.map { |i| "#{i.address}:#{b.p("backend.port")}" }.join(",") %>'
        "<% end.else do %>none<% end %>",
        "10.0.1.20:6432,10.0.1.21:6432",
    ),
    "if_link runs else without the link (brace form)": (
        '<% if_link("cache") { |c| %>cache<% }.else { %>no cache<% } %>',
        "no cache",
    ),
}

RUBY_CASES = {
    "require json and to_json": (
        '<% require "json" %><%= {"port" => p("demo.port"), "listen" => p("demo.listen")}.to_json %>',
        '{"port":8080,"listen":["0.0.0.0","::"]}',
    ),
    "JSON.pretty_generate": (
        '<%= JSON.pretty_generate({"host" => p("demo.host"), "tags" => p("demo.tags")}) %>',
        json.dumps({"host": "db.internal", "tags": {"app": "web", "zone": "a"}}, indent=2),
    ),
    "merge! of the (sorted) tags into the instance's own": (
        '<% tags = { job: name, index: index }; tags.merge!(p("demo.tags")) %>'
        '<%= tags.map { |k, v| "#{k}:#{v}" }.join(",") %>',
        "job:web,index:1,app:web,zone:a",
    ),
    "empty?": ('<%= p("demo.listen").empty? %> <%= p("demo.env").empty? %>', "false true"),
    "blank? and present?": (
        '<%= [nil, "", "  ", [], {}, false, 0, "x"].map(&:blank?) %> <%= p("demo.host").present? %> '
        '<%= p("demo.legacy_port", nil).present? %>',
        "[true, true, true, true, true, true, false, false] true false",
    ),
    "Shellwords.escape": ('<%= Shellwords.escape(p("demo.db.password")) %>', r"pa\ ss\'\$word"),
    "string interpolation": ('<%= "#{name}-#{index}:#{p("demo.port")}" %>', "web-1:8080"),
    "an array prints in its inspect form": ('listen: <%= p("demo.listen") %>', 'listen: ["0.0.0.0", "::"]'),
    "an empty array prints as []": ('plugins: <%= p("demo.plugins") %>', "plugins: []"),
    "<%% is a literal <%": ("<%%= not ruby %>", "<%= not ruby %>"),
}

TRIM_CASES = {
    "-%> eats the newline after a tag": (
        '<% if p("demo.enabled") -%>\non\n<% else -%>\noff\n<% end -%>\ndone\n',
        "off\ndone\n",
    ),
    "<%- drops the indentation before a tag": ('  <%- port = p("demo.port") -%>\nport=<%= port %>\n', "port=8080\n"),
    "a plain %> keeps its newline": ("<% if true %>\nyes\n<% end %>\n", "\nyes\n\n"),
}

CONTEXT_CASES = {**P_CASES, **IF_P_CASES, **SPEC_CASES, **LINK_CASES, **RUBY_CASES, **TRIM_CASES}


@pytest.mark.parametrize(("source", "expected"), list(CONTEXT_CASES.values()), ids=list(CONTEXT_CASES))
def test_a_template_sees_what_the_director_gives_it(source: str, expected: str) -> None:
    assert render(source) == expected


def test_the_bootstrap_instance_is_index_0() -> None:
    job = demo_job({"t.erb": "<%= index %>:<%= spec.bootstrap %>"})
    rendered = render_instances([instance(job, index=0), instance(job, index=1)])
    assert [r.files["config/t"] for r in rendered] == ["0:true", "1:false"]


def test_a_password_escaped_with_shellwords_reaches_the_shell_intact() -> None:
    script = render('printf %s <%= Shellwords.escape(p("demo.db.password")) %>')
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10, check=True)
    assert done.stdout == MANIFEST["demo"]["db"]["password"]


def test_a_template_changing_a_property_does_not_change_what_the_next_template_sees() -> None:
    job = demo_job({
        "a.erb": '<% p("demo.listen") << "evil" %><%= p("demo.listen").size %>',
        "b.erb": '<%= p("demo.listen").size %>',
    })  # fmt: skip
    rendered = render_instances([instance(job, index=0), instance(job, index=1)])
    # Within its file the change holds (as in the director); the next file and instance see the bound value.
    assert [(r.files["config/a"], r.files["config/b"]) for r in rendered] == [("3", "2"), ("3", "2")]


def test_locals_stay_in_their_template() -> None:
    job = demo_job({"a.erb": "<% secret = 42 %><%= secret %>", "b.erb": "<%= defined?(secret).inspect %>"})
    assert render_instances([instance(job)])[0].files == {"config/a": "42", "config/b": "nil"}


def test_a_template_printing_to_stdout_does_not_break_the_renderer() -> None:
    assert render('<% puts "noise"; $stdout.puts "more"; STDOUT.write("x") %>ok') == "ok"


def test_utf8_and_a_bom_pass_through() -> None:
    assert render('\ufeff# café <%= "✓ #{p("demo.host")}" %>') == "\ufeff# café ✓ db.internal"


def test_monit_is_a_template_too() -> None:
    job = demo_job({"t.erb": ""}, monit='check process demo\n  if failed port <%= p("demo.port") %> then restart\n')
    assert render_instances([instance(job)])[0].monit == "check process demo\n  if failed port 8080 then restart\n"


# 2. Binding, as the director binds ----------------------------------------------------------------------------


def test_only_declared_properties_reach_a_template() -> None:
    manifest = {"demo": {**MANIFEST["demo"], "bogus": 1}, "other": {"key": "x"}}
    job = demo_job({"t.erb": '<%= p("demo.bogus", "dropped") %> <%= p("other.key", "dropped") %>'})
    assert "bogus" not in bind_properties(job.spec, manifest)["demo"]
    assert "other" not in bind_properties(job.spec, manifest)
    assert undeclared(job.spec, manifest) == ["demo.bogus", "other"]  # a wholly undeclared subtree by its root
    assert render_instances([instance(job, manifest=manifest)])[0].files["config/t"] == "dropped dropped"


def test_the_manifest_value_wins_over_the_spec_default() -> None:
    assert render('<%= p("demo.port") %>', manifest={"demo": {"port": 9090}}) == "9090"


def test_nil_in_the_manifest_falls_back_to_the_default() -> None:
    assert render('<%= p("demo.port") %> <%= p("demo.db.user") %>', manifest={"demo": {"port": None, "db": None}}) == (
        "8080 admin"
    )


def test_a_hash_property_comes_out_with_its_keys_sorted() -> None:
    tags = {"zone": "a", "nested": {"b": 2, "a": 1}, "app": "web", "list": [{"z": 1, "a": 2}]}
    job = demo_job({"t.erb": '<% require "json" %><%= p("demo.tags").to_json %>'})
    bound = bind_properties(job.spec, {"demo": {"tags": tags}})
    assert list(bound["demo"]["tags"]) == ["app", "list", "nested", "zone"]
    # Hashes are sorted all the way down; arrays are not entered (the director's sort_property).
    expected = '{"app":"web","list":[{"z":1,"a":2}],"nested":{"a":1,"b":2},"zone":"a"}'
    assert render_instances([instance(job, manifest={"demo": {"tags": tags}})])[0].files["config/t"] == expected


def test_properties_follow_the_spec_declaration_order() -> None:
    bound = bind_properties(demo_job({}).spec, {"demo": {"token": "t", "db": {"password": "p"}, "host": "h"}})
    assert list(bound["demo"]) == [
        "port", "host", "enabled", "legacy_port", "listen", "plugins", "tags", "env", "token", "db",
    ]  # fmt: skip


def test_a_property_without_value_or_default_makes_p_fail_and_if_p_skip() -> None:
    assert bind_properties(demo_job({}).spec, MANIFEST)["demo"]["token"] is None
    assert render('<% if_p("demo.token") do |t| %>token<% end.else do %>no token<% end %>') == "no token"
    assert problems({"t.erb": 'token=<%= p("demo.token") %>\n'}) == (
        "jobs/demo/templates/t.erb:1: Can't find property '[\"demo.token\"]'",
    )


@pytest.mark.parametrize(
    ("manifest", "named"),
    [({"demo": "oops"}, "'demo.port' needs 'demo'"), ({"demo": {"db": "admin"}}, "'demo.db.user' needs 'demo.db'")],
    ids=["a string for the job's hash", "a string for a nested hash"],
)
def test_a_value_where_a_hash_is_needed_is_a_property_error(manifest: dict[str, Any], named: str) -> None:
    with pytest.raises(PropertyError, match=re.escape(named)) as caught:
        bind_properties(demo_job({}).spec, manifest)
    assert "job demo" in str(caught.value)
    assert "str" in str(caught.value)


def test_a_link_carries_the_listed_properties_from_the_provider() -> None:
    spec = JobTemplates.from_files({"spec": BACKEND_SPEC.encode()}, "jobs/backend").spec
    provides = spec.provides[0]
    assert link_properties(provides, spec, BACKEND_MANIFEST) == {"backend": {"port": 6432, "tls": False}}
    assert link_properties(provides, spec, {}) == {"backend": {"port": 5432, "tls": False}}
    # A key the provider's manifest has counts, even when it is nil.
    assert link_properties(provides, spec, {"backend": {"tls": None}}) == {"backend": {"port": 5432, "tls": None}}


def test_a_link_listing_an_undeclared_property_is_a_property_error() -> None:
    listing_ca = BACKEND_SPEC.replace("  - backend.tls", "  - backend.ca")
    spec = JobTemplates.from_files({"spec": listing_ca.encode()}, "jobs/backend").spec
    with pytest.raises(PropertyError, match=r"link backend lists property 'backend\.ca'"):
        link_properties(spec.provides[0], spec, {})


# 3. Errors ----------------------------------------------------------------------------------------------------


def test_an_unknown_property_is_one_problem_naming_the_line_that_asked() -> None:
    source = '#!/bin/sh\nport=<%= p("demo.port") %>\nhost=<%= p("x.y") %>\n'
    with pytest.raises(RenderFailed) as caught:
        render_instances([instance(demo_job({"t.erb": source}))])
    assert caught.value.problems == ("jobs/demo/templates/t.erb:3: Can't find property '[\"x.y\"]'",)
    assert str(caught.value) == "1 template did not render; fix the template or the properties it reads"


def test_an_unknown_property_inside_a_block_names_the_line_in_the_block() -> None:
    source = '<% p("demo.listen").each do |address| -%>\nlisten <%= address %>\nport <%= p("x.y") %>\n<% end -%>\n'
    assert problems({"t.erb": source}) == ("jobs/demo/templates/t.erb:3: Can't find property '[\"x.y\"]'",)


def test_an_unknown_list_of_properties_names_them_all() -> None:
    assert problems({"t.erb": '<%= p(["x.y", "x.z"]) %>'}) == (
        'jobs/demo/templates/t.erb:1: Can\'t find property \'["x.y", "x.z"]\'',
    )


def test_an_unknown_link_is_a_problem() -> None:
    assert problems({"t.erb": '\n<%= link("nope").address %>'}) == (
        "jobs/demo/templates/t.erb:2: Can't find link 'nope'",
    )


def test_a_template_that_raises_names_its_line() -> None:
    assert problems({"t.erb": 'ok\n<% raise "boom" %>\n'}) == ("jobs/demo/templates/t.erb:2: boom",)


def test_a_ruby_syntax_error_names_the_template() -> None:
    (problem,) = problems({"good.erb": "fine", "bad.erb": "line 1\n<% if %>\n"})
    assert problem.startswith("jobs/demo/templates/bad.erb")
    assert "syntax error" in problem


def test_a_monit_file_that_fails_is_named() -> None:
    assert problems({"t.erb": "ok"}, monit='check process demo\n<%= p("x.y") %>\n') == (
        "jobs/demo/monit:2: Can't find property '[\"x.y\"]'",
    )


def test_every_failing_template_of_an_instance_is_listed_in_order() -> None:
    assert problems({"a.erb": '<%= p("x.a") %>', "fine.erb": "ok", "b.erb": '<%= link("nope") %>'}) == (
        "jobs/demo/templates/a.erb:1: Can't find property '[\"x.a\"]'",
        "jobs/demo/templates/b.erb:1: Can't find link 'nope'",
    )


def test_many_instances_failing_the_same_way_each_name_their_instance() -> None:
    job = demo_job({"t.erb": 'host=<%= p("demo.host") %>\ntoken=<%= p("demo.token") %>\n'})
    with pytest.raises(RenderFailed) as caught:
        render_instances([instance(job, index=n, label=f"pi-{n + 1}") for n in range(3)])
    assert caught.value.problems == tuple(
        f"jobs/demo/templates/t.erb:2: Can't find property '[\"demo.token\"]' (pi-{n})" for n in (1, 2, 3)
    )
    assert str(caught.value).startswith("3 templates did not render")


def test_a_template_that_loops_forever_is_stopped_and_the_run_goes_on() -> None:
    templates = [erb.Template("jobs/demo/templates/loop.erb", "<% loop { } %>"),
                 erb.Template("jobs/demo/templates/next.erb", "after")]  # fmt: skip
    results = erb.render(templates, [{}], [(0, 0), (1, 0)], per_template=1)
    assert str(results[0].error) == "jobs/demo/templates/loop.erb: did not finish within 1 s"
    assert results[1].value() == "after"


def test_a_template_that_asks_for_too_much_memory_is_an_error_for_that_render() -> None:
    templates = [erb.Template("jobs/demo/templates/big.erb", '<%= ("x" * (3 << 30)).size %>'),
                 erb.Template("jobs/demo/templates/next.erb", "after")]  # fmt: skip
    results = erb.render(templates, [{}], [(0, 0), (1, 0)])
    assert results[0].error is not None
    assert results[0].error.file == "jobs/demo/templates/big.erb"
    assert results[1].value() == "after"


# 4. The sandbox -----------------------------------------------------------------------------------------------


def attempt(ruby: str) -> str:
    """A template that runs `ruby` and prints `done`, or the class of the exception it raised."""
    return render(f"<% begin; {ruby}; r = 'done'; rescue Exception => e; r = e.class.name; end %><%= r %>")


def test_a_template_cannot_write_a_file_outside(tmp_path: Path) -> None:
    target = tmp_path / "owned"
    assert attempt(f"File.write({str(target)!r}, 'owned')") != "done"
    assert not target.exists()


def test_a_template_cannot_open_the_renderer_for_writing() -> None:
    before = erb.RENDERER.read_bytes()
    # Opened for appending and closed at once: even a broken sandbox would leave the file as it was.
    assert attempt(f"File.open({str(erb.RENDERER)!r}, 'a') {{ }}") != "done"
    assert erb.RENDERER.read_bytes() == before


def test_a_template_cannot_read_a_file_of_the_controller(tmp_path: Path) -> None:
    secret = "decoy-secret-7f3a9c"
    decoy = tmp_path / "creds.yml"
    decoy.write_text(f"admin_password: {secret}\n")
    out = render(f"<%= (File.read({str(decoy)!r}) rescue 'unreadable') %>")
    assert secret not in out
    assert out == "unreadable"


def test_a_template_does_not_see_the_controllers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "decoy-env-secret-51b2"
    monkeypatch.setenv("PICF_TEST_DECOY", secret)
    out = render("<%= ENV.to_h.to_a.flatten.join(' ') %> <%= Dir.home %>")
    assert secret not in out
    assert "PICF_TEST_DECOY" not in out
    assert str(Path.home()) not in out.split()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on this machine's loopback; the sandbox must not reach it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server
    server.close()


def test_a_template_cannot_reach_the_network(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    out = attempt(f'require "socket"; TCPSocket.new("127.0.0.1", {port}).write("reached")')
    assert out.startswith("Errno::")
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):  # nothing waiting to be accepted: no connection ever came
        listener.accept()


@pytest.mark.parametrize(
    ("stop", "detail"),
    [("exit 3", "exit"), ('abort "bye"', "bye"), ('Process.kill("TERM", Process.pid); sleep 5', "SIGTERM")],
    ids=["exit", "abort", "SIGTERM"],
)
def test_a_template_that_exits_is_an_error_for_that_render(stop: str, detail: str) -> None:
    templates = [erb.Template("jobs/demo/templates/stop.erb", f"<% {stop} %>"),
                 erb.Template("jobs/demo/templates/next.erb", "after")]  # fmt: skip
    results = erb.render(templates, [{}], [(0, 0), (1, 0)])
    assert str(results[0].error) == f"jobs/demo/templates/stop.erb:1: {detail}"
    assert results[1].value() == "after"


@pytest.mark.parametrize("kill", ["exit!", 'Process.kill("KILL", Process.pid)'], ids=["exit!", "SIGKILL"])
def test_a_template_that_kills_the_renderer_is_an_error_not_a_hang(kill: str) -> None:
    with pytest.raises(PicfError) as caught:
        render_instances([instance(demo_job({"t.erb": f"<% {kill} %>"}))])
    said = "\n".join([str(caught.value), *caught.value.problems])
    assert "the template renderer stopped while rendering it" in said
    assert "jobs/demo/" in said
    assert render("<%= 1 + 1 %>") == "2"  # the next run starts a renderer of its own


KILLED_BLAMES_FIRST = (
    "picf bug: render.rb buffers its answers (protocol is not sync), so when a template kills Ruby the answers "
    "already made are lost and the error names the run's first render (here monit) and no instance"
)
KILLED_LOSES_RUN = (
    "picf bug: a render that kills Ruby makes erb.render raise for the whole run: the renders before it lose their "
    "results and the ones after it are never made"
)


def test_a_template_that_kills_the_renderer_is_blamed_alone() -> None:
    job = demo_job({"t.erb": "<% exit! if index == 1 %>ok"})
    with pytest.raises(RenderFailed) as caught:
        render_instances([instance(job, index=n, label=f"pi-{n + 1}") for n in range(3)])
    (problem,) = caught.value.problems
    assert problem.startswith("jobs/demo/templates/t.erb")
    assert problem.endswith("(pi-2)")


def test_renders_around_a_killed_one_keep_their_results() -> None:
    templates = [erb.Template(f"jobs/demo/templates/{name}.erb", source)
                 for name, source in (("before", "before"), ("kill", "<% exit! %>"), ("after", "after"))]  # fmt: skip
    results = erb.render(templates, [{}], [(0, 0), (1, 0), (2, 0)])
    assert results[0].value() == "before"
    assert results[1].error is not None
    assert results[1].error.file == "jobs/demo/templates/kill.erb"
    assert results[2].value() == "after"


# 5. One run, many instances -----------------------------------------------------------------------------------


def test_one_run_renders_200_instances_each_with_its_own_context() -> None:
    job = demo_job(
        {
            "id.erb": "<%= spec.index %> <%= spec.id %>\n",
            "net.erb": '<%= spec.ip %>:<%= p("demo.port") %> <%= link("backend").p("backend.port") %>\n',
            "role.erb": '<%= name %>/<%= index %> <%= spec.bootstrap ? "bootstrap" : "follower" %> '
            '<%= p("demo.host") %>',
        },
        monit="check process demo-<%= index %>\n",
    )
    manifests = [{"demo": {"port": 10000 + n, "host": f"db-{n}.internal"}} for n in range(200)]
    rendered = render_instances(
        [instance(job, index=n, manifest=manifests[n], label=f"pi-{n + 1}") for n in range(200)]
    )
    assert len(rendered) == 200
    for n, result in enumerate(rendered):
        assert result.monit == f"check process demo-{n}\n"
        assert result.files == {
            "config/id": f"{n} {id_of(n)}\n",
            "config/net": f"{ip_of(n)}:{10000 + n} 6432\n",
            "config/role": f"web/{n} {'bootstrap' if n == 0 else 'follower'} db-{n}.internal",
        }
    assert len({r.files["config/id"] for r in rendered}) == 200


# Bugs: what the director has loaded, and constants ------------------------------------------------------------


NOT_LOADED = (
    "picf bug: the director's process has base64, digest/sha1, openssl, securerandom and time loaded, so templates "
    "use them without `require`; render.rb loads only json, yaml, ostruct and shellwords"
)
CONSTANTS = (
    "picf bug: render.rb compiles each template into a method (ERB#def_method), where assigning a constant is a "
    "SyntaxError ('dynamic constant assignment'); the director evaluates erb.result(binding), where it works "
    "(loggregator's metron_agent_windows pre-start.ps1.erb does it)"
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('<%= Base64.strict_encode64(p("demo.host")) %>', base64.b64encode(b"db.internal").decode()),
        ('<%= Digest::SHA1.hexdigest(p("demo.host")) %>', hashlib.sha1(b"db.internal").hexdigest()),
        ('<%= OpenSSL::Digest::SHA256.hexdigest(p("demo.host")) %>', hashlib.sha256(b"db.internal").hexdigest()),
        ("<%= SecureRandom.hex(8).size %>", "16"),
        ("<%= Time.at(0).utc.iso8601 %>", "1970-01-01T00:00:00Z"),
    ],
    ids=["Base64", "Digest", "OpenSSL", "SecureRandom", "Time#iso8601"],
)
def test_a_template_uses_what_the_director_has_loaded_without_require(source: str, expected: str) -> None:
    assert render(source) == expected


def test_a_template_may_assign_a_constant() -> None:
    job = demo_job({"t.erb": '<%\n  RUN_DIR = "/var/vcap/sys/run/demo"\n%><%= RUN_DIR %>/<%= name %>-<%= index %>.pid'})
    rendered = render_instances([instance(job, index=0), instance(job, index=1)])
    assert [r.files["config/t"] for r in rendered] == ["/var/vcap/sys/run/demo/web-0.pid",
                                                        "/var/vcap/sys/run/demo/web-1.pid"]  # fmt: skip


# The CLI ------------------------------------------------------------------------------------------------------

CLI_PROPERTIES = """\
logfwd:
  token: s3cret
  forward_to: /var/vcap/store/my logs/forwarded.log
  send_on_start: false
  tags: {zone: a, app: web}
  report_every: 30
other:
  key: dropped
"""

CLI_SPEC = """\
name: edge
index: 2
id: 6f1c2d0e-8a4b-4c3e-9d7f-0b5a1e2c3d4f
az: z1
ip: 10.0.0.9
address: 10.0.0.9
deployment: logs
"""

CLI_LINKS = """\
logsink:
  deployment_name: logs
  domain: bosh
  default_network: default
  instance_group: sink
  properties:
    logsink:
      port: 9000
  instances:
  - {name: sink, index: 0, id: 0b8f5a7e-1c2d-4e3f-a4b5-c6d7e8f90a1b, az: z1, address: 10.0.0.5, bootstrap: true}
  - {name: sink, index: 1, id: 1c9a6b8f-2d3e-4f5a-b6c7-d8e9f0a1b2c3, az: z2, address: 10.0.0.6, bootstrap: false}
"""


def picf_render(picf_bin: Path, tmp_path: Path, release: Path, properties: str) -> subprocess.CompletedProcess[str]:
    files = {"props.yml": properties, "spec.yml": CLI_SPEC, "links.yml": CLI_LINKS}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    argv = [str(picf_bin), "release", "render", str(release), "logfwd", "--out", str(tmp_path / "out")]
    argv += ["--properties", str(tmp_path / "props.yml"), "--spec", str(tmp_path / "spec.yml")]
    argv += ["--links", str(tmp_path / "links.yml")]
    env = {**os.environ, "PICF_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path / "home")}
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)


RELEASES = [
    pytest.param(EXAMPLE, id="repository"),
    pytest.param(TARBALL, id="tarball", marks=pytest.mark.skipif(not TARBALL.exists(), reason="no release tarball")),
]


@pytest.mark.parametrize("release", RELEASES)
def test_the_cli_renders_logfwd_for_an_instance(picf_bin: Path, tmp_path: Path, release: Path) -> None:
    done = picf_render(picf_bin, tmp_path, release, CLI_PROPERTIES)
    assert done.returncode == 0, done.stderr
    assert "not declared by job logfwd, dropped (as the director does): logfwd.report_every, other\n" in done.stderr
    out = tmp_path / "out"
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written == {"bin/logfwd_ctl", "config/logfwd.json", "bin/pre-start", "bin/post-start", "bin/drain", "monit"}
    assert all(os.access(out / name, os.X_OK) for name in written if name.startswith("bin/"))
    assert not os.access(out / "config/logfwd.json", os.X_OK)

    config = json.loads((out / "config/logfwd.json").read_text())
    assert config == {
        "listen": "127.0.0.1:7070",
        "forward_to": "/var/vcap/store/my logs/forwarded.log",
        "report_every": "10s",  # logfwd.report_every is not declared: dropped, so p([...]) takes report_seconds
        "node": "edge/6f1c2d0e-8a4b-4c3e-9d7f-0b5a1e2c3d4f",
        "sinks": ["10.0.0.5:9000", "10.0.0.6:9000"],
        "tags": {
            "deployment": "logs",
            "job": "edge",
            "index": "6f1c2d0e-8a4b-4c3e-9d7f-0b5a1e2c3d4f",
            "ip": "10.0.0.9",
            "az": "z1",
            "app": "web",
            "zone": "a",
        },
        "token": "s3cret",
    }
    assert list(config["tags"]) == ["deployment", "job", "index", "ip", "az", "app", "zone"]
    pre_start = (out / "bin/pre-start").read_text()
    assert r'"$(dirname /var/vcap/store/my\ logs/forwarded.log)"' in pre_start
    assert "pre-start: logfwd 0.1.0 on 10.0.0.9 (instance 2 of edge)" in pre_start
    assert 'echo "post-start: no check (logfwd.send_on_start is false)"' in (out / "bin/post-start").read_text()
    assert "with timeout 5 seconds" in (out / "monit").read_text()


def test_the_cli_reports_a_template_that_fails_and_writes_nothing(picf_bin: Path, tmp_path: Path) -> None:
    done = picf_render(picf_bin, tmp_path, EXAMPLE, "logfwd:\n  drain_seconds: [1]\n")
    assert done.returncode == 1
    assert "jobs/logfwd/templates/drain.erb:5: undefined method `to_i'" in done.stderr
    assert "1 template did not render" in done.stderr
    assert "Traceback" not in done.stderr
    assert not any((tmp_path / "out").rglob("*"))
