"""BOSH releases as BOSH writes them (models only; reading them is `picf.releases.read.source`).

A release comes in three forms, all read into one `Release`:

- a release repository: `config/final.yml`, `jobs/<job>/{spec,monit,templates/}`, `packages/<pkg>/{spec,
  packaging}` (or a vendored `spec.lock`), `src/`, `blobs/` (`config/blobs.yml`), `.final_builds/`, `releases/`;
- a release tarball, as `bosh create-release --tarball` writes it: `release.MF`, `jobs/<job>.tgz` (`job.MF`,
  `monit`, `templates/`), `packages/<pkg>.tgz` (`packaging` and the package's files), `license.tgz`;
- a compiled release: the same, with `compiled_packages/<pkg>.tgz` (a package's install directory after its
  `packaging` ran) and a `stemcell` per package.

Job and package specs keep BOSH's field names; keys picf does not use are accepted and ignored, as bosh-cli does.
"""

from __future__ import annotations

import posixpath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from picf.models.node import Arch

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
VERSION = r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,127}$"
FINGERPRINT = r"^[0-9a-f]{40,128}$"
Form = Literal["repository", "tarball", "compiled"]


def _drop_nulls(data: Any, fields: tuple[str, ...]) -> Any:
    """bosh-cli reads an empty YAML key (`packages:`) as an empty list or map: so does picf."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if not (k in fields and v is None)}
    return data


def relative_path(path: str) -> bool:
    """A path that stays where it is put: relative, normalised, no `..`, not empty."""
    return bool(path) and not path.startswith("/") and posixpath.normpath(path) == path and ".." not in path.split("/")


class PropertySpec(BaseModel):
    """One property a job declares. Only `default` matters to rendering."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    description: str | None = None
    default: Any = None
    example: Any = None
    type: str | None = None


class LinkConsumes(BaseModel):
    """A link a job reads (`link("name")` in its templates)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    type: str
    optional: bool = False


class LinkProvides(BaseModel):
    """A link a job offers, with the properties consumers may read through it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    type: str
    properties: tuple[str, ...] = ()


class JobSpec(BaseModel):
    """A job's `spec` file (`job.MF` in archives)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(pattern=NAME)
    description: str | None = None
    templates: dict[str, str] = Field(default_factory=dict, description="source under templates/ -> destination")
    packages: tuple[str, ...] = ()
    properties: dict[str, PropertySpec] = Field(default_factory=dict)
    consumes: tuple[LinkConsumes, ...] = ()
    provides: tuple[LinkProvides, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        data = _drop_nulls(data, ("templates", "packages", "properties", "consumes", "provides", "description"))
        if isinstance(data, dict) and isinstance(data.get("properties"), dict):
            data["properties"] = {k: ({} if v is None else v) for k, v in data["properties"].items()}
        return data

    @field_validator("templates")
    @classmethod
    def _template_paths(cls, templates: dict[str, str]) -> dict[str, str]:
        # A template is read from templates/SOURCE and written to /var/vcap/jobs/JOB/DESTINATION.
        for source, destination in templates.items():
            for path in (source, destination):
                if not relative_path(str(path)):
                    raise ValueError(f"{source}: {path!r} must be a relative path inside the job, without '..'")
        return templates


class PackageSpec(BaseModel):
    """A package's `spec` file."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(pattern=NAME)
    dependencies: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    excluded_files: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        return _drop_nulls(data, ("dependencies", "files", "excluded_files"))


class SpecLock(BaseModel):
    """`packages/<pkg>/spec.lock`: a package vendored with `bosh vendor-package` (its tarball is in the final
    build index and the release's blobstore)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(pattern=NAME)
    fingerprint: str = Field(pattern=FINGERPRINT)
    dependencies: tuple[str, ...] = ()


class ReleaseJob(BaseModel):
    """A job of a release."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME)
    fingerprint: str = Field(pattern=FINGERPRINT)
    sha1: str | None = Field(default=None, description="digest of the job's .tgz, where the release records one")
    spec: JobSpec

    @property
    def packages(self) -> tuple[str, ...]:
        return self.spec.packages


class ReleasePackage(BaseModel):
    """A package of a release: its source (to compile) or, in a compiled release, its compiled form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME)
    fingerprint: str | None = Field(pattern=FINGERPRINT, description="None while a blob it needs is missing")
    dependencies: tuple[str, ...] = ()
    sha1: str | None = Field(default=None, description="digest of the package's .tgz, where recorded")
    vendored: bool = Field(default=False, description="a spec.lock: the tarball comes from the final build index")
    stemcell: str | None = Field(default=None, description="compiled releases: the `os/version` it was compiled on")
    missing_blobs: tuple[str, ...] = Field(default=(), description="blobs/ paths the package needs that are absent")


class Release(BaseModel):
    """One release, whatever form it was read from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME)
    version: str = Field(pattern=VERSION)
    form: Form
    commit_hash: str | None = None
    uncommitted_changes: bool | None = None
    jobs: tuple[ReleaseJob, ...] = ()
    packages: tuple[ReleasePackage, ...] = ()
    license: str | None = Field(default=None, description="the license's fingerprint")

    def job(self, name: str) -> ReleaseJob | None:
        return next((j for j in self.jobs if j.name == name), None)

    def package(self, name: str) -> ReleasePackage | None:
        return next((p for p in self.packages if p.name == name), None)

    def closure(self, names: tuple[str, ...] | list[str]) -> list[str]:
        """`names` and every package they depend on, dependencies first."""
        ordered: list[str] = []

        def visit(name: str) -> None:
            if name in ordered:
                return
            package = self.package(name)
            for dep in package.dependencies if package else ():
                visit(dep)
            ordered.append(name)

        for name in names:
            visit(name)
        return ordered


class CompiledPackage(BaseModel):
    """One package compiled for one arch, as the store holds it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    arch: Arch
    fingerprint: str = Field(pattern=r"^([0-9a-f]{40,128})?$", description="bosh-cli's fingerprint of its source")
    key: str = Field(description="cache key: fingerprint + arch + dependencies' keys (+ the Go picf provided)")
    sha256: str = Field(description="of the compiled tarball")
    size: int
    dependencies: tuple[str, ...] = ()
    toolchain: str | None = Field(default=None, description="the Go picf provided for it, when it is a Go toolchain")


class CompiledJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    fingerprint: str = Field(pattern=FINGERPRINT)
    sha256: str = Field(description="of the job's tarball (job.MF, monit, templates/) in the store")
    packages: tuple[str, ...] = ()


class CompiledRelease(BaseModel):
    """What `picf release build` produced: one release, one arch."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    version: str = Field(pattern=VERSION)
    arch: Arch
    patched: bool
    patches: tuple[str, ...] = Field(default=(), description="patch ids applied to the source")
    packages: tuple[CompiledPackage, ...]
    jobs: tuple[CompiledJob, ...]
    built_at: str
    source: str = Field(default="", description="where it was built from (a directory or a tarball)")
