"""C `#if` conditions judged by the target's own compiler, not by a reading of them.

Each architecture's cross compiler (the ones `make setup` installs) is asked once per process for the macros it
predefines (`gcc -dM -E`), and once per lint to preprocess every condition of the tree (`gcc -E`), so
`#if defined(__x86_64__)`, `#if __SIZEOF_LONG__ == 8` or `#if __ARM_ARCH >= 7` come out as that compiler takes
them. A condition that names anything else (a libc's `SYS_` macro, a feature the build passes with `-D`) is
undecided: the compiler alone cannot say.

The same conditions are also put to the compilers of the other architectures, so the lint can tell a branch only
its target takes (a per-architecture number) from a branch every Linux compiler takes.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Sequence

from picf.errors import PicfError
from picf.models.node import Arch

# The compiler of each architecture, as the node's OS builds for it (armhf defaults to armv7-a; a Pi 1 or Zero
# is an ARM1176, armv6 with a VFP).
COMPILERS: dict[Arch, tuple[str, ...]] = {
    "armv6": ("arm-linux-gnueabihf-gcc", "-march=armv6+fp", "-marm"),
    "armv7": ("arm-linux-gnueabihf-gcc",),
    "arm64": ("aarch64-linux-gnu-gcc",),
    "amd64": ("x86_64-linux-gnu-gcc",),
}
_FAMILY: dict[Arch, str] = {"armv6": "arm", "armv7": "arm", "arm64": "arm64", "amd64": "amd64"}
# What the compilers of architectures picf has no compiler for predefine: none of ours does, so a test of one
# is decided (false) as surely as a test of __x86_64__ on arm.
_FOREIGN_ARCH_MACROS = frozenset(
    {"__i386__", "__powerpc__", "__powerpc64__", "__PPC64__", "__ppc64__", "__s390__", "__s390x__", "__mips__",
     "__mips64", "__riscv", "__sparc__", "__loongarch__", "__loongarch64"}
)  # fmt: skip
_IDENTIFIER = re.compile(r"(?<![\w.'])[A-Za-z_]\w*")
_ERROR_LINE = re.compile(r"^<stdin>:(\d+):\d+: error", re.MULTILINE)
_ANSWER = re.compile(r"^@(\d+) ([01])$", re.MULTILINE)


def others(arch: Arch) -> tuple[Arch, ...]:
    """One architecture of each family but `arch`'s: the compilers a branch is compared against."""
    return tuple(a for a in ("armv7", "arm64", "amd64") if _FAMILY[a] != _FAMILY[arch])


def _compiler(arch: Arch) -> list[str]:
    argv = COMPILERS[arch]
    if shutil.which(argv[0]) is None:
        raise PicfError(f"{argv[0]} is not installed; picf's C lint asks {arch}'s compiler: run `make setup`")
    return [*argv, "-x", "c"]


@functools.cache
def predefined(arch: Arch) -> dict[str, str]:
    """The macros `arch`'s compiler defines before reading a file (`gcc -dM -E - </dev/null`)."""
    done = subprocess.run([*_compiler(arch), "-dM", "-E", "-"], input="", capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    if done.returncode != 0:
        raise PicfError(f"`{COMPILERS[arch][0]} -dM -E` failed: {done.stderr.strip()[-200:]}")
    found = (re.match(r"#define (\w+)(?:\(.*?\))?(?: (.*))?$", line) for line in done.stdout.splitlines())
    return {m.group(1): m.group(2) or "" for m in found if m}


@functools.cache
def _compiler_names() -> frozenset[str]:
    names = {name for arch in ("armv7", "armv6", "arm64", "amd64") for name in predefined(arch)}
    return frozenset(names) | _FOREIGN_ARCH_MACROS


def decidable(condition: str) -> bool:
    """Whether a condition names only what compilers predefine (so a compiler alone decides it)."""
    names = set(_IDENTIFIER.findall(condition)) - {"defined"}
    return names <= _compiler_names()


def _preprocess(arch: Arch, conditions: Sequence[str]) -> list[bool | None]:
    lines = []
    for i, condition in enumerate(conditions):
        lines += [f"#if {condition}", f"@{i} 1", "#else", f"@{i} 0", "#endif"]
    done = subprocess.run([*_compiler(arch), "-E", "-P", "-"], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    malformed = {(int(n) - 1) // 5 for n in _ERROR_LINE.findall(done.stderr)}
    if done.returncode != 0 and not malformed:
        raise PicfError(f"`{COMPILERS[arch][0]} -E` failed: {done.stderr.strip()[-200:]}")
    answers = {int(i): v == "1" for i, v in _ANSWER.findall(done.stdout)}
    return [None if i in malformed else answers.get(i) for i in range(len(conditions))]


def judge(conditions: Sequence[str], arch: Arch) -> dict[str, tuple[bool | None, ...]]:
    """Each condition's value for `arch`'s compiler, then for each of `others(arch)`: True or False as the
    compiler takes it, None when it names what no compiler decides or the compiler finds it malformed. One
    preprocessor run per compiler, however many conditions."""
    asked = sorted({c for c in conditions if decidable(c)})
    verdicts: dict[str, tuple[bool | None, ...]] = {c: (None,) * (1 + len(others(arch))) for c in conditions}
    if asked:
        columns = [_preprocess(a, asked) for a in (arch, *others(arch))]
        verdicts.update({c: tuple(column[i] for column in columns) for i, c in enumerate(asked)})
    return verdicts
