"""How long `picf release lint` takes on whole Go trees, against `GOARCH=arm go vet ./...` on the same tree.

Run: `.venv/bin/python bench/lint.py [TREE ...]` (default: the example release's source and the lint
fixtures). Give it whole release trees, vendor/ included, to see what matters: picf type-checks every package
(the standard library and each vendored package once, packages in parallel) with Go's own type checker. The
baseline is Go's vet for the same target (`go vet` runs the compiler's type checker and its analyzers,
atomicalign among them), where it can run: it needs a module with its vendor/ (or a GOPATH layout). Both
commands start warm: picf's analyzer and Go's build cache are built by a first, untimed run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import smoke

REPO = Path(__file__).resolve().parents[1]
PICF = Path(sys.executable).with_name("picf")
DEFAULT_TREES = (REPO / "examples" / "releases" / "logfwd" / "src" / "logfwd", REPO / "tests/data/golint/modtree")


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600, check=False)
    return time.perf_counter() - started, done.returncode, done.stdout + done.stderr


# What `go vet` prints when it cannot load the tree at all (as opposed to the findings it exits 1 with).
_CANNOT_LOAD = ("go: errors parsing go.mod", "invalid go version", "cannot find package", "no required module",
                "go: updates to go.mod needed", "inconsistent vendoring", "go.mod requires go")  # fmt: skip


def vet_problem(rc: int, output: str) -> str:
    """Why `go vet` could not check the tree ("" when it ran)."""
    if rc not in (0, 1):
        return f"exit {rc}"
    return next((marker for marker in _CANNOT_LOAD if marker in output), "")


def go_files(tree: Path) -> int:
    return sum(1 for p in tree.rglob("*.go") if not p.name.endswith("_test.go"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trees", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.rounds = 1
    trees = args.trees or list(DEFAULT_TREES)
    env = {**os.environ, "GOARCH": "arm", "GOOS": "linux", "CGO_ENABLED": "0", "GOFLAGS": "-mod=vendor",
           "GOPROXY": "off", "GOTOOLCHAIN": "local"}  # fmt: skip
    unchecked = []
    print(f"{'tree':40} {'Go files':>9} {'picf lint s':>12} {'findings':>9} {'go vet s':>10} {'ratio':>7}")
    for tree in trees:
        lint = [str(PICF), "release", "lint", str(tree), "--arch", "armv7", "--json"]
        vet = ["go", "vet", "./..."]
        if not (tree / "go.mod").exists():
            env_vet = {**env, "GOFLAGS": "", "GO111MODULE": "off"}
        else:
            env_vet = {**env, "GOFLAGS": "-mod=vendor" if (tree / "vendor").is_dir() else "-mod=mod"}
        timed(lint, REPO, dict(os.environ))  # warm: the analyzer and the standard library for arm
        _, vet_rc, vet_out = timed(vet, tree, env_vet)  # vet exits 1 when it reports something
        problem = vet_problem(vet_rc, vet_out)
        vet_ok = not problem
        ours = [timed(lint, REPO, dict(os.environ)) for _ in range(args.rounds)]
        theirs = [timed(vet, tree, env_vet) for _ in range(args.rounds)] if vet_ok else []
        picf_s = statistics.median(t for t, _, _ in ours)
        findings = ours[-1][2].count('"id":')
        if theirs:
            vet_s = statistics.median(t for t, _, _ in theirs)
            print(f"{tree.name[:40]:40} {go_files(tree):9d} {picf_s:12.2f} {findings:9d} {vet_s:10.2f} "
                  f"{vet_s / picf_s:6.1f}x")  # fmt: skip
        else:
            print(f"{tree.name[:40]:40} {go_files(tree):9d} {picf_s:12.2f} {findings:9d} {'cannot run':>10}"
                  f"  (go vet: {problem})")  # fmt: skip
            unchecked.append(f"go vet on {tree}")
        if any(rc not in (0, 1) for _, rc, _ in ours):
            unchecked.append(f"picf release lint on {tree}")
    if args.smoke and unchecked:
        print(f"incomplete: {', '.join(unchecked)} did not run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
