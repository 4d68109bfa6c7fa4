"""Rendering a deploy's templates: picf (one sandboxed Ruby run for all nodes) against plain Ruby in one process.

Run: `.venv/bin/python bench/render.py [--job-dir DIR] [--nodes 100] [--rounds 3]`. DIR is a job directory of a
BOSH release checkout (its `spec`, `monit`, `templates/`); the target of issue #26 is garden-runc-release's
`jobs/garden` (13 templates): 100 nodes times its templates in under 2 s. Without --job-dir the example release's
`logfwd` job is used. picf's time is `render_instances`: binding each node's properties and instance spec in
Python, the request, starting Ruby in the sandbox, rendering, reading the answers. The baseline is
bench/erb_baseline.rb fed the same templates and contexts: plain `ruby`, no sandbox, ERB compiled once per
template, a minimal context (what a person would write to render BOSH templates by hand).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import smoke

from picf.releases.render.binding import bind_properties, instance_spec
from picf.releases.render.templates import Instance, JobTemplates, render_instances

REPO = Path(__file__).resolve().parents[1]
DEFAULT_JOB = REPO / "examples" / "releases" / "logfwd" / "jobs" / "logfwd"
BASELINE = Path(__file__).with_name("erb_baseline.rb")
TARGET_S = 2.0


def instances(job: JobTemplates, nodes: int) -> list[Instance]:
    bound = bind_properties(job.spec, {})
    out = []
    for i in range(nodes):
        ip = f"10.231.0.{10 + i % 200}"
        spec = instance_spec(deployment="pi-cloud", group="cell", index=i, node=f"pi-{i}", ip=ip,
                             address=f"pi-{i}.local", az=None, release=("bench", "1"))  # fmt: skip
        out.append(Instance(job, bound, spec, {}, f"pi-{i}"))
    return out


def picf_seconds(job: JobTemplates, nodes: int) -> tuple[float, int]:
    made = instances(job, nodes)
    started = time.perf_counter()
    rendered = render_instances(made)
    elapsed = time.perf_counter() - started
    return elapsed, sum(1 + len(r.files) for r in rendered)


def baseline_seconds(job: JobTemplates, nodes: int) -> tuple[float, int]:
    made = instances(job, nodes)
    templates = [{"name": "monit", "source": job.monit}] + [{"name": s, "source": t} for s, t in job.templates.items()]
    request = {
        "templates": templates,
        "contexts": [{"properties": i.properties, "spec": i.spec, "links": i.links} for i in made],
        "renders": [[t, c] for c in range(len(made)) for t in range(len(templates))],
    }
    payload = json.dumps(request)
    started = time.perf_counter()
    done = subprocess.run(["ruby", "--disable-gems", str(BASELINE)], input=payload, capture_output=True, text=True,
                          check=True, timeout=600)  # fmt: skip
    elapsed = time.perf_counter() - started
    return elapsed, int(done.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job-dir", type=Path, default=DEFAULT_JOB)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.nodes, args.rounds = 2, 1
    job = JobTemplates.from_directory(args.job_dir)
    ours = [picf_seconds(job, args.nodes) for _ in range(args.rounds)]
    theirs = [baseline_seconds(job, args.nodes) for _ in range(args.rounds)]
    picf_s, renders = statistics.median(s for s, _ in ours), ours[0][1]
    plain_s, plain_renders = statistics.median(s for s, _ in theirs), theirs[0][1]
    whole = args.nodes * (1 + len(job.templates))
    if (renders, plain_renders) != (whole, whole):
        print(f"incomplete: {renders} renders by picf, {plain_renders} by plain ruby, of {whole}", file=sys.stderr)
        return 1
    print(f"job {job.spec.name} ({len(job.templates)} templates + monit) for {args.nodes} nodes, median of "
          f"{args.rounds} rounds on {os.cpu_count()} cores")  # fmt: skip
    print(f"picf (sandboxed Ruby, one run): {picf_s:6.2f} s for {renders} renders")
    print(f"plain ruby, one process:        {plain_s:6.2f} s for {plain_renders} renders  "
          f"(picf takes {picf_s / plain_s:.1f}x)")  # fmt: skip
    met = picf_s < TARGET_S
    print(f"target: under {TARGET_S:.0f} s: {'met' if met else 'MISSED'}")
    return smoke.exit_code(met, args.smoke)


if __name__ == "__main__":
    raise SystemExit(main())
