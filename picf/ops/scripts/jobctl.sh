#!/bin/sh
# picf restart|stop|start, on the node, as root: one node's jobs through monit, the BOSH agent's way.
#
#   sh jobctl.sh ACTION OWNER LEASE LOW_MS HIGH_MS STABLE_S JOB...
#
# The node's deploy lock first (node_lock.sh: exit 75 naming its holder when another controller holds it).
#   stop     drain (job_shutdown), monit stops the job (killed 30 s later if it is still there), and picf marks it
#            stopped (/var/vcap/picf/stopped/JOB): status says "stopped", a deploy keeps it stopped
#   start    the mark goes, pre-start, monit restarts it (a new chapter for the crash-loop detector), the watch
#            of a deploy (watch_jobs.sh: running steadily), post-start
#   restart  drain, stop, then as start
# The helper scripts (node_lock.sh, lifecycle.sh, watch_jobs.sh) are beside this one. Exit 0 when every job
# did what was asked; 1 with the job, monit's view and its last log lines otherwise; 2 for a job that is not
# deployed on the node.
here=$(cd "$(dirname "$0")" && pwd)
action=$1 owner=$2 lease=$3 low=$4 high=$5 stable=$6
shift 6
stopped=/var/vcap/picf/stopped

for job in "$@"; do
  [ -e "/var/vcap/monit/job/$job.monitrc" ] || { echo "$job: not deployed on this node (no monit stanza)"; exit 2; }
done
taken=$(sh "$here/node_lock.sh" take "$owner" "$lease" 2>&1) || { echo "$taken"; exit 75; }
trap 'sh "$here/node_lock.sh" release "$owner" >/dev/null 2>&1' EXIT

stop_job() {
  pidfile=$(awk '/with pidfile/ {print $3; exit}' "/var/vcap/monit/job/$1.monitrc" 2>/dev/null)
  pid=$(cat "${pidfile:-/nonexistent}" 2>/dev/null || true)
  monit stop "$1" >/dev/null 2>&1 || true
  n=0
  while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $n -lt 150 ]; do sleep 0.2; n=$((n + 1)); done
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  # monit may still be starting it (a crash loop): once it says "Not monitored", nothing starts it again.
  n=0
  until monit status "$1" 2>/dev/null | grep -q 'Not monitored' || [ $n -ge 150 ]; do sleep 0.2; n=$((n + 1)); done
  echo "$1 stopped"
}

if [ "$action" = stop ] || [ "$action" = restart ]; then
  shutdown=""
  for job in "$@"; do shutdown="$shutdown $job=job_shutdown"; done
  # shellcheck disable=SC2086
  sh "$here/lifecycle.sh" drain $shutdown || exit 1
  for job in "$@"; do stop_job "$job"; done
fi
if [ "$action" = stop ]; then
  mkdir -p "$stopped"
  for job in "$@"; do : > "$stopped/$job"; done
  exit 0
fi

watch=$(mktemp -d)
trap 'rm -rf "$watch"; sh "$here/node_lock.sh" release "$owner" >/dev/null 2>&1' EXIT
mkdir -p "$watch/replaced"
for job in "$@"; do
  rm -f "$stopped/$job"
  pidfile=$(awk '/with pidfile/ {print $3; exit}' "/var/vcap/monit/job/$job.monitrc" 2>/dev/null)
  cat "${pidfile:-/nonexistent}" > "$watch/replaced/$job" 2>/dev/null || true
done
sh "$here/lifecycle.sh" pre-start "$@" || exit 1
for job in "$@"; do monit restart "$job" && echo "$job started"; done
sh "$here/watch_jobs.sh" "$watch" "$low" "$high" "$stable" "$@" || exit 1
sh "$here/lifecycle.sh" post-start "$@" || exit 1
