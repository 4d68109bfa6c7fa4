"""`picf release new NAME`: a BOSH release repository that validates and builds, to start from.

What `bosh init-release` and `bosh generate-job`/`generate-package` would leave, filled in: a job with an ERB
template and a monit file, a Go package whose packaging script uses the vendored Go 1.21 package (the
`spec.lock` `bosh vendor-package` writes for bosh-package-golang-release's golang-1.21-linux).
"""

from __future__ import annotations

from pathlib import Path

# bosh-package-golang-release v0.155.0's golang-1.21-linux (Go 1.21.13), as `bosh vendor-package` records it.
GOLANG_PACKAGE = "golang-1.21-linux"
GOLANG_FINGERPRINT = "25a068129e8c7847dd127b5cdf43b9681d18262fa1fe20d8493a0445b1b72555"

_FINAL = """---
final_name: {name}
blobstore:
  provider: local
  options:
    blobstore_path: .blobstore
"""

_JOB_SPEC = """---
name: {name}

templates:
  {name}_ctl.erb: bin/{name}_ctl

packages:
- {name}

properties:
  {name}.greeting:
    description: What {name} prints every minute
    default: hello from a Pi
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
    /var/vcap/packages/{name}/bin/{name} <%= Shellwords.escape(p("{name}.greeting")) %> \\
      >> "$LOG_DIR/{name}.stdout.log" 2>> "$LOG_DIR/{name}.stderr.log" < /dev/null &
    echo $! > "$RUN_DIR/{name}.pid"
    ;;
  stop)
    kill "$(cat "$RUN_DIR/{name}.pid")" 2>/dev/null
    rm -f "$RUN_DIR/{name}.pid"
    ;;
esac
"""

_PACKAGE_SPEC = """---
name: {name}

dependencies:
- {golang}

files:
- {name}/go.mod
- {name}/**/*.go
"""

_PACKAGING = """set -e -x

source /var/vcap/packages/{golang}/bosh/compile.env

mkdir -p "${{BOSH_INSTALL_TARGET}}/bin"
cd {name}
go build -o "${{BOSH_INSTALL_TARGET}}/bin/{name}" ./cmd/{name}
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


def scaffold(directory: Path, name: str) -> list[Path]:
    """Write a new release called `name` into `directory` (which must not exist yet)."""
    files = {
        "config/final.yml": _FINAL.format(name=name),
        "config/blobs.yml": "--- {}\n",
        ".gitignore": "blobs/\n.blobstore/\n.dev_builds/\ndev_releases/\n",
        f"jobs/{name}/spec": _JOB_SPEC.format(name=name),
        f"jobs/{name}/monit": _MONIT.format(name=name),
        f"jobs/{name}/templates/{name}_ctl.erb": _CTL.format(name=name),
        f"packages/{name}/spec": _PACKAGE_SPEC.format(name=name, golang=GOLANG_PACKAGE),
        f"packages/{name}/packaging": _PACKAGING.format(name=name, golang=GOLANG_PACKAGE),
        f"packages/{GOLANG_PACKAGE}/spec.lock": f"name: {GOLANG_PACKAGE}\nfingerprint: {GOLANG_FINGERPRINT}\n",
        f"src/{name}/go.mod": f"module example.com/{name}\n\ngo 1.19\n",
        f"src/{name}/cmd/{name}/main.go": _MAIN.format(),
    }
    written = []
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
