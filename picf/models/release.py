"""Releases, BOSH-like: packages (compiled once per arch) and jobs (templates, properties, a monit stanza).

`release.yml` in a release directory:

    name: logfwd
    version: 0.1.0
    source: {path: src}                      # or {git: URL, ref: v1.2.3, submodules: true}
    packages:
      - name: logfwd
        files: ["go.mod", "**/*.go"]         # globs under the source; they make the fingerprint
        dependencies: []
        build: {kind: go, module: ".", package: ./cmd/logfwd, binary: logfwd, ldflags: "-s -w"}
    jobs:
      - name: logfwd
        packages: [logfwd]
        properties:
          logfwd.port: {type: int, default: 7070, description: where lines arrive}
        templates: {ctl.sh.j2: bin/logfwd_ctl, config.json.j2: config/logfwd.json}
        monit: monit.j2                      # jobs/<name>/monit.j2, rendered like the templates
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from picf.models.node import Arch

_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class LocalSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(default="src", description="directory of the source, relative to the release")


class GitSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    git: str = Field(description="repository URL")
    ref: str = Field(description="tag, branch or commit")
    submodules: bool = True


class GoBuild(BaseModel):
    """`go build` for the target arch (GOARCH, GOARM=7 on armv7, CGO off unless asked)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["go"]
    module: str = Field(default=".", description="directory with go.mod, relative to the source")
    package: str = Field(description="package to build: ./cmd/x in a module, or an import path with gopath")
    gopath: str | None = Field(default=None, description="import path of the source for GOPATH-era trees")
    binary: str = Field(pattern=_NAME)
    ldflags: str = ""
    cgo: bool = False


class CBuild(BaseModel):
    """A static C program, built with the target's cross compiler."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["c"]
    sources: tuple[str, ...] = Field(min_length=1)
    flags: tuple[str, ...] = ("-O2",)
    binary: str = Field(pattern=_NAME)


class ScriptBuild(BaseModel):
    """A BOSH-style `packaging` script, run in a clean compile directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["script"]
    script: str = Field(description="path of the packaging script, relative to the release")


Build = Annotated[GoBuild | CBuild | ScriptBuild, Field(discriminator="kind")]


class Package(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    files: tuple[str, ...] = Field(min_length=1, description="globs under the source that make the fingerprint")
    dependencies: tuple[str, ...] = ()
    build: Build


PropertyType = Literal["string", "int", "bool", "float", "list", "map", "password", "certificate"]


class Property(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: PropertyType = "string"
    default: Any = None
    description: str = ""


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    packages: tuple[str, ...] = ()
    properties: dict[str, Property] = Field(default_factory=dict)
    templates: dict[str, str] = Field(default_factory=dict, description="template file -> bin/... or config/...")
    monit: str = Field(default="monit.j2", description="monit stanza template under jobs/<name>/")

    @field_validator("templates")
    @classmethod
    def _targets(cls, templates: dict[str, str]) -> dict[str, str]:
        for source, target in templates.items():
            if not re.match(r"^(bin|config|data)/[A-Za-z0-9._/-]+$", target) or ".." in target:
                raise ValueError(f"{source}: target {target!r} must be under bin/, config/ or data/")
        return templates


class Release(BaseModel):
    """A release directory's `release.yml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    version: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
    source: LocalSource | GitSource = LocalSource()
    packages: tuple[Package, ...] = ()
    jobs: tuple[Job, ...] = ()

    def package(self, name: str) -> Package | None:
        return next((p for p in self.packages if p.name == name), None)


class CompiledPackage(BaseModel):
    """One package built for one arch, as the store holds it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arch: Arch
    fingerprint: str = Field(description="bosh-cli style sha256 over the package's files and dependencies")
    key: str = Field(description="cache key: fingerprint + arch + dependencies' keys")
    sha256: str = Field(description="of the tarball")
    size: int
    dependencies: tuple[str, ...] = ()


class CompiledJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    sha256: str = Field(description="of the job's tarball (spec, templates, monit)")
    packages: tuple[str, ...] = ()


class CompiledRelease(BaseModel):
    """What `picf release build` produced: the manifest of one release, one arch."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    arch: Arch
    patched: bool
    patches: tuple[str, ...] = Field(default=(), description="patch ids applied to the source")
    packages: tuple[CompiledPackage, ...]
    jobs: tuple[CompiledJob, ...]
    built_at: str
