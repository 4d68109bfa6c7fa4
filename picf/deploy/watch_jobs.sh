#!/bin/sh
# watch_jobs BUNDLE LOW_MS HIGH_MS STABLE_S JOB...: watch every JOB at once; when all of them run steadily,
# run the changed jobs' post-start scripts, then record BUNDLE's state as what the node runs (prints
# "recorded"). A node that already records that state
# has nothing to watch: a second run of the same deploy changes nothing. A job `picf stop` stopped stays stopped
# (BOSH's `stop` outlives a deploy): it is neither watched nor post-started. Without BUNDLE/state.json (picf
# restart|start) nothing is recorded and post-start is left to the caller.
#
# One job's watch: wait LOW, then until HIGH for the job to run under monit with a pid at least STABLE seconds
# old (a crash loop keeps replacing it), counting only monit cycles that ran after the watch began and had no
# action pending. That is `picf status`'s "running" too: monit's OK and an uptime of STABLE seconds, so status
# right after a deploy agrees with its watch. The pid must not be the one the restart replaced
# (BUNDLE/replaced/JOB): the old version running steadily is not the new one running. On failure: monit's
# view and the job's last log lines.
bundle=$1 low=$2 high=$3 stable=$4
shift 4
recorded=/var/vcap/picf/state.json
cmp -s "$bundle/state.json" "$recorded" && exit 0

now() { date +%s%3N; }

watch_one() {
  job=$1
  pidfile=$(awk '/with pidfile/ {print $3; exit}' "/var/vcap/monit/job/$job.monitrc")
  replaced=$(cat "$bundle/replaced/$job" 2>/dev/null)
  began=$(date +%s)
  deadline=$(( $(now) + high ))
  sleep "$(awk -v ms="$low" 'BEGIN { printf "%.3f", ms / 1000 }')"
  status="" kicked="" pid=""
  while [ "$(now)" -lt "$deadline" ]; do
    block=$(monit status "$job" 2>/dev/null)
    status=$(printf '%s\n' "$block" | awk '$1 == "status" { $1 = ""; sub(/^ +/, ""); print; exit }')
    collected=$(printf '%s\n' "$block" | awk '/data collected/ { $1 = $2 = ""; sub(/^ +/, ""); print; exit }')
    collected_at=$(date -d "$collected" +%s 2>/dev/null || echo 0)
    pid=$(cat "$pidfile" 2>/dev/null)
    settled=""
    [ "$status" = "OK" ] && [ "$collected_at" -gt "$began" ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
      && ! printf '%s\n' "$block" | grep -q pending && settled=1
    # monit may drop our restart: it gives up on the old version (`N restarts within M cycles`) just as the new
    # one is started (start it), or a reload it had not yet begun discards it and the old process runs on
    # (restart it). Only once: if the new version crash-loops, monit gives up again. A start, unlike a restart,
    # does not begin a new chapter for the crash-loop detector: the restarts so far keep counting.
    if [ -z "$kicked" ] && [ "$status" = "Not monitored" ]; then
      monit start "$job" >/dev/null 2>&1
      kicked=1
    elif [ -z "$kicked" ] && [ -n "$settled" ] && [ "$pid" = "$replaced" ]; then
      monit restart "$job" >/dev/null 2>&1
      kicked=1
    fi
    if [ -n "$settled" ] && [ "$pid" != "$replaced" ]; then
      age=$(ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' ')
      if [ "${age:-0}" -ge "$stable" ]; then
        echo "$job running (pid $pid, up ${age} s)"
        return 0
      fi
    fi
    sleep 0.5
  done
  if [ -n "$pid" ] && [ "$pid" = "$replaced" ]; then
    echo "$job still runs the process it ran before the deploy (pid $pid) after ${high} ms: monit did not restart it"
  else
    echo "$job is not running after ${high} ms (monit: ${status:-no status})"
  fi
  echo "--- last lines of $job's logs:"
  tail -n 15 /var/vcap/sys/log/"$job"/*.log 2>/dev/null
  return 1
}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for job in "$@"; do
  if [ -e "/var/vcap/picf/stopped/$job" ]; then  # `picf stop` stopped it: a deploy keeps it stopped
    echo "$job stays stopped (picf stop); picf start starts it" > "$out/$job.log"
    echo 0 > "$out/$job.rc"
    continue
  fi
  ( watch_one "$job" > "$out/$job.log" 2>&1; echo $? > "$out/$job.rc" ) &
done
wait
failed=""
for job in "$@"; do
  cat "$out/$job.log"
  [ "$(cat "$out/$job.rc" 2>/dev/null)" = 0 ] || failed="$failed $job"
done
if [ -n "$failed" ]; then
  echo "not running steadily:$failed"
  exit 1
fi
[ -e "$bundle/state.json" ] || exit 0  # picf restart|start watches with no deploy to record
# The jobs run steadily: their post-start scripts (the BOSH agent's order), then the node records what it runs.
post_start=""
for job in $(cat "$bundle/post-start.jobs" 2>/dev/null); do
  [ -e "/var/vcap/picf/stopped/$job" ] || post_start="$post_start $job"
done
if [ -n "$post_start" ]; then
  # shellcheck disable=SC2086
  sh "$bundle/lifecycle.sh" post-start $post_start || exit 1
fi
install -m 0644 "$bundle/state.json" "$recorded.partial"
mv -f "$recorded.partial" "$recorded"
echo "recorded $(basename "$bundle")"
