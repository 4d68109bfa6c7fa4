#!/bin/sh
# picf recreate: stop the node's jobs and clear what picf put on it, so the deploy that follows rebuilds it.
# Kept: the jobs' logs (/var/vcap/sys/log), their persistent data (/var/vcap/store), and the jobs `picf stop`
# stopped (/var/vcap/picf/stopped). Prints what it did.
set -u
if command -v monit >/dev/null 2>&1; then
  for stanza in /var/vcap/monit/job/*.monitrc; do
    [ -e "$stanza" ] || continue
    job=$(basename "$stanza" .monitrc)
    pidfile=$(awk '/with pidfile/ {print $3; exit}' "$stanza" 2>/dev/null)
    pid=$(cat "${pidfile:-/nonexistent}" 2>/dev/null || true)
    monit stop "$job" >/dev/null 2>&1 || true
    n=0
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$n" -lt 150 ]; do sleep 0.2; n=$((n + 1)); done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    echo "stopped $job"
  done
fi
for path in /var/vcap/data/packages /var/vcap/data/jobs /var/vcap/data/picf/links /var/vcap/data/picf/current \
            /var/vcap/data/picf/bundles /var/vcap/picf/state.json /var/vcap/picf/base.ready; do
  if [ -e "$path" ] || [ -L "$path" ]; then
    rm -rf "$path"
    echo "cleared $path"
  fi
done
exit 0
