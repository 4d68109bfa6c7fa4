"""The Go analyzer's findings (gotypes.GoFinding) as hazards, in the catalog's words."""

from __future__ import annotations

from pathlib import Path

from picf.releases.lint.gotypes import GoFinding
from picf.releases.lint.hazard import Fixes, Hazard, patch_for

_ALIGN_PATCHES = ("diodes-manytoone-align", "metricemitter-align")


def go_hazard(f: GoFinding, src: Path, go_version: str, sized: str, fixes: Fixes) -> Hazard:
    """One finding as a hazard: `go_version` the Go that sized it, `sized` that Go with a note when it stood in."""
    here = src / f.file
    if f.kind == "atomic64" and f.verdict == "misaligned":
        why = f" ({f.detail})" if f.detail else ""
        fix = patch_for(src / (f.struct_file or f.file), fixes, _ALIGN_PATCHES) or (
            f"`picf release build --patch` moves {f.lift or f.field} to the top of {f.struct}; "
            "or make it an atomic.Int64/atomic.Uint64"
        )
        return Hazard(
            f.file, f.line, "atomic64-misaligned",
            f"{f.call} on {f.struct}.{f.field} at offset {f.offset}, not 8-byte aligned on 32-bit ARM{why} "
            f"[layout of {sized}]",
            fix, f.struct, f.field, f.offset, go_version, f.struct_file,
        )  # fmt: skip
    if f.kind == "atomic64":
        return Hazard(
            f.file, f.line, "atomic64-unproven",
            f"{f.call} on {f.struct}.{f.field}: its offset depends on {f.unknown}, "
            "from a package this tree does not hold",
            f"vendor the package of {f.unknown}, or move {f.lift or f.field} to the top of {f.struct}",
            f.struct, f.field, f.offset, go_version, f.struct_file, f.unknown,
        )  # fmt: skip
    if f.kind == "timespec":
        fix = patch_for(here, fixes, ("grootfs-utime-omit",)) or "use an untyped constant or syscall.NsecToTimespec"
        return Hazard(
            f.file, f.line, "timespec-int64",
            f"typed 64-bit value in {f.struct}.{f.field} ({f.detail}), which is int32 on linux/arm (does not compile)",
            fix, go=go_version, struct=f.struct, field=f.field,
        )  # fmt: skip
    if f.kind == "statfs":
        fix = patch_for(here, fixes, ("grootfs-statfs-type",)) or "compare int64(uint32(x.Type))"
        if f.verdict == "sign-extend":
            return Hazard(
                f.file, f.line, "statfs-type-sign-extension",
                f"{f.detail} sign-extends the int32 field on arm: magic numbers above 2^31 (Btrfs 0x9123683E) "
                "never match",
                fix, go=go_version, field=f.field,
            )  # fmt: skip
        return Hazard(
            f.file, f.line, "statfs-type-int64",
            f"{f.field} (int32 on linux/arm) compared with a 64-bit value ({f.detail}) (does not compile)",
            fix, go=go_version, field=f.field,
        )  # fmt: skip
    fix = patch_for(here, fixes, ("idmapper-uid-map-overflow",)) or "scan into int64 (or uint32) and clamp"
    return Hazard(
        f.file, f.line, "sscanf-int-overflow",
        f"{f.call or 'fmt.Sscanf'} into {f.field} ({f.detail}) while reading uid_map/gid_map: 4294967295 "
        "overflows a 32-bit int",
        fix, go=go_version, field=f.field,
    )  # fmt: skip
