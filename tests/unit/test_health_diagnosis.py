"""Diagnosis signatures: each failure mode from FACTS.md, as a log excerpt written in its shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from picf.health.diagnosis import SignatureError, diagnose_job, load_signatures, node_warnings
from picf.models.health import Throttle, Vitals

CASES = [
    ("armv7", ["panic: unaligned 64-bit atomic operation", "", "goroutine 1 [running]:",
               "runtime/internal/atomic.panicUnaligned()", "example.com/logfwd/metrics.(*Counter).Add(...)"],
     "unaligned-atomic-64", "align64"),
    ("armv7", ["panic: unaligned 64-bit atomic operation", "code.cloudfoundry.org/go-diodes.(*ManyToOne).Set(...)"],
     "unaligned-atomic-64", "diodes-manytoone-align"),
    ("armv7", ["panic: runtime error: invalid memory address or nil pointer dereference",
               "[signal SIGSEGV: segmentation violation code=0x1 addr=0x4 pc=0x11d4c]",
               "/usr/local/go/src/sync/atomic/64bit_arm.go:31 +0x4c",
               "code.cloudfoundry.org/loggregator/metricemitter.(*Counter).Increment(0x10a3c140, 0x1)"],
     "unaligned-atomic-64-go19", "metricemitter-align"),
    ("armv7", ["{\"timestamp\":\"1530\",\"message\":\"guardian.stream-in.nstar.failed\",",
               "\"error\":\"execveat: Invalid argument\"}"], "nstar-execveat", "nstar-execveat-arm"),
    ("arm64", ["runc run failed: container_linux.go:348: starting container process caused \"bad system call\""],
     "seccomp-kill", "guardian-seccomp-arm"),
    ("armv7", ["SIGSYS: bad system call", "PC=0x7d6c8 m=0 sigcode=1"], "seccomp-kill", "guardian-seccomp-arm"),
    ("armv7", ["panic: idmapper.ParseError: could not parse /proc/self/uid_map: integer overflow"],
     "idmapper-uid-map", "idmapper-uid-map-overflow"),
    ("arm64", ["/var/vcap/jobs/metron/bin/metron_ctl: 12: /var/vcap/packages/metron/bin/metron: Exec format error"],
     "exec-format", None),
    ("armv7", ["fatal error: runtime: out of memory", "runtime stack:"], "oom-kill", None),
]  # fmt: skip


@pytest.mark.parametrize(("arch", "log", "signature", "patch"), CASES)
def test_each_failure_mode_is_named_with_its_patch(
    arch: str, log: list[str], signature: str, patch: str | None
) -> None:
    found = diagnose_job(log, arch, "metron", "loggregator/101.6")
    assert found is not None and found.signature == signature and found.patch == patch
    assert found.evidence in [line.strip() for line in log]
    assert found.fix and all("{" not in step for step in found.fix)


def test_the_fix_names_the_release_and_the_arch() -> None:
    found = diagnose_job(["panic: unaligned 64-bit atomic operation"], "armv7", "metron", "loggregator/101.6")
    assert found is not None
    assert found.fix[0] == "picf release build <loggregator source> --arch armv7 --patch"
    assert found.fix[-1] == "picf deploy"


def test_arm_only_failures_are_not_claimed_on_64_bit() -> None:
    assert diagnose_job(["panic: unaligned 64-bit atomic operation"], "arm64", "x", None) is None
    assert diagnose_job(["everything is fine", "listening on :7070"], "armv7", "x", None) is None


def test_the_shipped_signatures_validate_and_name_catalog_patches() -> None:
    signatures = load_signatures()
    assert len(signatures) >= 7 and len({s.id for s in signatures}) == len(signatures)


def test_a_signature_naming_an_unknown_patch_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "signatures.yml"
    bad.write_text("signatures:\n  - id: x\n    cause: y\n    match: ['z']\n    patch: no-such-patch\n")
    with pytest.raises(SignatureError, match="unknown patch 'no-such-patch'"):
        load_signatures(bad)
    bad.write_text("signatures:\n  - id: x\n    cause: y\n    match: ['(unclosed']\n")
    with pytest.raises(SignatureError, match=r"signatures\.0\.match\.0"):
        load_signatures(bad)


def test_power_and_heat_warnings() -> None:
    assert node_warnings(Vitals(temp_c=47.2, throttle=Throttle(bits=0))) == ()
    hot = node_warnings(Vitals(temp_c=84.5, throttle=Throttle(bits=0xE000E)))
    assert [w.signature for w in hot] == ["thermal"] and "84.5 C" in hot[0].cause
    low = node_warnings(Vitals(temp_c=50.0, throttle=Throttle(bits=0x10001)))
    assert [w.signature for w in low] == ["under-voltage"] and "now" in low[0].cause
    past = node_warnings(Vitals(throttle=Throttle(bits=0x10000)))
    assert "since boot" in past[0].cause
