#!/bin/sh
# watch_job JOB LOW_MS HIGH_MS STABLE_S: wait LOW, then until HIGH for JOB to run under monit with one pid
# for STABLE seconds (a crash loop keeps changing it), counting only monit cycles that ran after the watch
# began and had no action pending. On failure: monit's view and the job's last log lines.
job=$1 low=$2 high=$3 stable=$4
pidfile=$(awk '/with pidfile/ {print $3; exit}' "/var/vcap/monit/job/$job.monitrc")
now() { date +%s%3N; }
began=$(date +%s)
deadline=$(( $(now) + high ))
sleep "$(awk -v ms="$low" 'BEGIN { printf "%.3f", ms / 1000 }')"
last="" since=0 status="" kicked=""
while [ "$(now)" -lt "$deadline" ]; do
  block=$(monit status "$job" 2>/dev/null)
  status=$(printf '%s\n' "$block" | awk '$1 == "status" { $1 = ""; sub(/^ +/, ""); print; exit }')
  # monit may give up on the old version (`N restarts within M cycles`) just as the new one is started, and
  # drop our restart with it: ask once more. Only once: if the new version crash-loops, monit gives up again.
  if [ "$status" = "Not monitored" ] && [ -z "$kicked" ]; then
    monit start "$job" >/dev/null 2>&1
    kicked=1
  fi
  collected=$(printf '%s\n' "$block" | awk '/data collected/ { $1 = $2 = ""; sub(/^ +/, ""); print; exit }')
  collected_at=$(date -d "$collected" +%s 2>/dev/null || echo 0)
  pid=$(cat "$pidfile" 2>/dev/null)
  if [ "$status" = "OK" ] && [ "$collected_at" -gt "$began" ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
     && ! printf '%s\n' "$block" | grep -q pending; then
    if [ "$pid" = "$last" ]; then
      if [ $(( $(now) - since )) -ge $(( stable * 1000 )) ]; then
        echo "$job running (pid $pid)"
        exit 0
      fi
    else
      last=$pid since=$(now)
    fi
  else
    last=""
  fi
  sleep 0.5
done
echo "$job is not running after ${high} ms (monit: ${status:-no status})"
echo "--- last lines of $job's logs:"
tail -n 15 /var/vcap/sys/log/"$job"/*.log 2>/dev/null
exit 1
