#!/bin/sh
# picf's emulated node (picf/sim/emulated.py), inside its sandbox: each job's pre-start, then monit, then the
# deploy's watch of every job (watch_jobs.sh). Exit 0 when all run steadily, 1 when one does not, 3 when a
# pre-start failed, 4 when monit itself did not start.
#   emulated_node.sh LOW_MS HIGH_MS STABLE_S JOB...
low=$1 high=$2 stable=$3
shift 3
picf=/var/vcap/picf
sh "$picf/lifecycle.sh" pre-start "$@" || exit 3
monit -I > /var/vcap/monit/monit.out 2>&1 &
n=0
until monit summary > /dev/null 2>&1; do
  n=$((n + 1))
  if [ "$n" -ge 150 ]; then
    echo "monit did not answer in 15 s: $(tail -n 1 /var/vcap/monit/monit.out 2>/dev/null)"
    exit 4
  fi
  sleep 0.1
done
mkdir -p "$picf/watch/replaced"
sh "$picf/watch_jobs.sh" "$picf/watch" "$low" "$high" "$stable" "$@"
rc=$?
monit quit > /dev/null 2>&1
exit $rc
