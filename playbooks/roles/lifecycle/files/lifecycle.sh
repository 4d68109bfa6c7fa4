#!/bin/sh
# lifecycle SCRIPT ARG... : run a BOSH job lifecycle script the way the BOSH agent does.
#
#   lifecycle pre-start JOB...      before monit starts the jobs (new versions)
#   lifecycle post-start JOB...     once they run steadily
#   lifecycle post-deploy JOB...    once the whole deploy is done
#   lifecycle drain JOB=CHANGE...   before the jobs are stopped or updated (old versions); CHANGE is
#                                   job_changed (an update) or job_shutdown (a removal)
#
# Each job's /var/vcap/jobs/JOB/bin/SCRIPT runs if it exists, every job's at once, with PATH
# /usr/sbin:/usr/bin:/sbin:/bin; its output is appended to /var/vcap/sys/log/JOB/SCRIPT.stdout.log and
# .stderr.log. A script that exits non-zero fails the step (exit 1), naming the job, its exit code and the last
# lines it wrote. drain prints an integer: that many seconds are waited; a negative one means "wait that long,
# then ask again" (drain is run again with job_check_status), for at most PICF_DRAIN_MAX seconds in all.
script=$1
shift
max_drain=${PICF_DRAIN_MAX:-600}
vcap=${PICF_VCAP:-/var/vcap}  # another root only in picf's own tests
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run_one() {
  job=$1
  shift
  exe=$vcap/jobs/$job/bin/$script
  [ -x "$exe" ] || return 0
  log=$vcap/sys/log/$job
  mkdir -p "$log"
  if [ "$script" != drain ]; then
    PATH=/usr/sbin:/usr/bin:/sbin:/bin "$exe" "$@" >> "$log/$script.stdout.log" 2>> "$log/$script.stderr.log" < /dev/null
    rc=$?
    [ "$rc" = 0 ] && { echo "$script $job: ok"; return 0; }
    echo "$script of $job exited $rc; the end of $log/$script.stderr.log:"
    tail -n 10 "$log/$script.stderr.log" 2>/dev/null | sed 's/^/  /'
    return 1
  fi
  waited=0
  args="$*"
  while :; do
    answer=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin "$exe" $args 2>> "$log/drain.stderr.log" < /dev/null)
    rc=$?
    printf '%s\n' "$answer" >> "$log/drain.stdout.log"
    seconds=$(printf '%s' "$answer" | tr -d ' \n')
    case "$seconds" in
      ''|*[!0-9-]*|-|*?-*) echo "drain of $job printed ${answer:-nothing}, not a number of seconds (exit $rc)"; return 1 ;;
    esac
    [ "$rc" = 0 ] || { echo "drain of $job exited $rc"; return 1; }
    if [ "$seconds" -ge 0 ]; then
      [ $((waited + seconds)) -le "$max_drain" ] || seconds=$((max_drain - waited))
      sleep "$seconds"
      echo "drain $job: waited $((waited + seconds)) s"
      return 0
    fi
    pause=$((0 - seconds))
    waited=$((waited + pause))
    [ "$waited" -le "$max_drain" ] || { echo "drain of $job still asks to wait after ${max_drain} s"; return 1; }
    sleep "$pause"
    args="job_check_status hash_unchanged"
  done
}

for item in "$@"; do
  job=${item%%=*}
  if [ "$script" = drain ]; then
    change=${item#*=}
    hash=hash_changed
    [ "$change" = job_shutdown ] && hash=hash_unchanged
    ( run_one "$job" "$change" "$hash" > "$out/$job.log" 2>&1; echo $? > "$out/$job.rc" ) &
  else
    ( run_one "$job" > "$out/$job.log" 2>&1; echo $? > "$out/$job.rc" ) &
  fi
done
wait
failed=""
for item in "$@"; do
  job=${item%%=*}
  cat "$out/$job.log"
  [ "$(cat "$out/$job.rc" 2>/dev/null)" = 0 ] || failed="$failed $job"
done
if [ -n "$failed" ]; then
  echo "$script failed:$failed"
  exit 1
fi
exit 0
