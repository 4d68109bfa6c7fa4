"""`picf release new NAME`: a release directory that validates and builds, to start from."""

from __future__ import annotations

from pathlib import Path

_RELEASE = """# {name}: made by `picf release new`. Check it with `picf release validate`, build it with
# `picf release build . --arch armv7`.
name: {name}
version: 0.1.0
source:
  path: src

packages:
  - name: {name}
    files: ["go.mod", "**/*.go"]
    build:
      kind: go
      module: .
      package: ./cmd/{name}
      binary: {name}

jobs:
  - name: {name}
    packages: [{name}]
    properties:
      {name}.greeting:
        type: string
        default: hello from a Pi
        description: what {name} prints every minute
    templates:
      ctl.sh.j2: bin/{name}_ctl
    monit: monit.j2
"""

_MAIN = """package main

import (
\t"fmt"
\t"os"
\t"time"
)

func main() {{
\tgreeting := "hello"
\tif len(os.Args) > 1 {{
\t\tgreeting = os.Args[1]
\t}}
\tfor {{
\t\tfmt.Println(greeting)
\t\ttime.Sleep(time.Minute)
\t}}
}}
"""

_MONIT = """check process {name}
  with pidfile /var/vcap/sys/run/{name}/{name}.pid
  start program "/var/vcap/jobs/{name}/bin/{name}_ctl start"
  stop program "/var/vcap/jobs/{name}/bin/{name}_ctl stop"
  group vcap
  if 3 restarts within 3 cycles then timeout
"""

_CTL = """#!/bin/sh
RUN_DIR=/var/vcap/sys/run/{name}
LOG_DIR=/var/vcap/sys/log/{name}
case "$1" in
  start)
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    # monit waits for this script to end: start the job in the background and record its pid.
    /var/vcap/packages/{name}/bin/{name} "{{{{ p("{name}.greeting") }}}}" >> "$LOG_DIR/{name}.log" 2>&1 < /dev/null &
    echo $! > "$RUN_DIR/{name}.pid"
    ;;
  stop)
    kill "$(cat "$RUN_DIR/{name}.pid")" 2>/dev/null
    rm -f "$RUN_DIR/{name}.pid"
    ;;
esac
"""


def scaffold(directory: Path, name: str) -> list[Path]:
    """Write a new release called `name` into `directory` (which must not exist yet)."""
    files = {
        "release.yml": _RELEASE.format(name=name),
        "src/go.mod": f"module example.com/{name}\n\ngo 1.19\n",
        f"src/cmd/{name}/main.go": _MAIN.format(),
        f"jobs/{name}/monit.j2": _MONIT.format(name=name),
        f"jobs/{name}/ctl.sh.j2": _CTL.format(name=name),
    }
    written = []
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
