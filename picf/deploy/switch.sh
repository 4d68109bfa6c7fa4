#!/bin/sh
# switch.sh: put the deploy whose bundle holds this script in place on this node and switch to it: packages and
# jobs in place, the deploy's link farm, the jobs that change or go drained (and the ones that go stopped), the
# node switched to the new link farm in one rename, the state recorded as not yet watched, the changed jobs'
# pre-start run and monit's reload awaited. Idempotent; prints what it changed (nothing on a node that already
# runs this deploy). What the deploy holds is data beside this script, switch.list, one line each, in order:
#
#   package NAME FINGERPRINT   a package version the deploy links (in the bundle when the node lacks it)
#   job NAME HASH              a rendered job (bundle's jobs/NAME/HASH, monit/NAME.monitrc)
#   changed NAME               a job the deploy adds or updates: drained before the switch, pre-started after
#   removed NAME               a job the deploy takes away: drained and stopped before the switch
set -e
bundle=$(cd "$(dirname "$0")" && pwd)
deploy_id=${bundle##*/}
list=$bundle/switch.list
links=/var/vcap/data/picf/links/$deploy_id
monit_status_url='http://127.0.0.1:2822/_status?format=xml'  # picf's monitrc (playbooks/roles/base)

jobs_of() {  # jobs_of changed|removed: those jobs' names, one a line
  awk -v kind="$1" '$1 == kind { print $2 }' "$list"
}

while read -r kind name version; do
  case $kind in
    package)
      target=/var/vcap/data/packages/$name/$version
      shipped=$bundle/packages/$name-$version.tgz
      if [ ! -d "$target" ]; then
        if [ ! -f "$shipped" ]; then
          echo "package $name/$version is neither on this node nor in the bundle; deploy again (picf ships what a node lacks)" >&2
          exit 1
        fi
        rm -rf "$target.partial" && mkdir -p "$target.partial"
        tar -xzf "$shipped" -C "$target.partial" && mv -T "$target.partial" "$target"
        echo "package $name"
      fi
      ;;
    job)
      target=/var/vcap/data/jobs/$name/$version
      [ -d "$target" ] || { mkdir -p "/var/vcap/data/jobs/$name"; rm -rf "$target.partial"; cp -a "$bundle/jobs/$name/$version" "$target.partial"; mv -T "$target.partial" "$target"; echo "job $name"; }
      ;;
  esac
done < "$list"
if [ ! -e "$links/.complete" ]; then
  rm -rf "$links.partial" "$links"
  mkdir -p "$links.partial/packages" "$links.partial/jobs" "$links.partial/monit"
  while read -r kind name version; do
    case $kind in
      package) ln -s "/var/vcap/data/packages/$name/$version" "$links.partial/packages/$name" ;;
      job)
        ln -s "/var/vcap/data/jobs/$name/$version" "$links.partial/jobs/$name"
        # Readable by the node's first user: picf's health probe finds each job's pid file there.
        install -m 0644 "$bundle/monit/$name.monitrc" "$links.partial/monit/$name.monitrc"
        ;;
    esac
  done < "$list"
  touch "$links.partial/.complete"
  mv -T "$links.partial" "$links"
  echo "links $deploy_id"
fi
# The BOSH agent's order: drain, then stop, what changes or goes (the old version's scripts); switch in one
# rename; record the new state as not yet watched (the watch replaces it once the jobs run steadily);
# pre-start the new version; then monit loads it. A rerun of a deploy whose pre-start failed switches
# nothing more but runs pre-start again: its own mark, not the switch, says it succeeded.
# `monit reload` only signals the daemon, which reloads after its current cycle; until then it still
# answers as before, and drops a restart asked of it in between. So, as the BOSH agent does, wait for
# monit's incarnation (the second of its last load) to change; and reload in a later second than that one.
incarnation() {
  { wget -q -T 2 -O - "$monit_status_url" 2>/dev/null ||
    curl -sf -m 2 "$monit_status_url" 2>/dev/null; } |
    sed -n 's:.*<incarnation>\([0-9]*\)</incarnation>.*:\1:p'
}
stop_job() {  # monit stops the job's process; killed if it is still there 30 s later
  [ -e /var/vcap/monit/job/$1.monitrc ] || return 0
  pidfile=$(awk '/with pidfile/ {print $3; exit}' /var/vcap/monit/job/$1.monitrc 2>/dev/null)
  pid=$(cat "${pidfile:-/nonexistent}" 2>/dev/null || true)
  monit stop "$1" >/dev/null 2>&1 || true
  n=0; while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $n -lt 150 ]; do
    sleep 0.2; n=$((n + 1))
  done
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  echo "stopped $1"
}
was=
if [ "$(readlink /var/vcap/data/picf/current || true)" != "$links" ]; then
  draining=$(awk '$1 == "changed" { printf " %s=job_changed", $2 } $1 == "removed" { printf " %s=job_shutdown", $2 }' "$list")
  if [ -n "$draining" ]; then
    sh "$bundle/lifecycle.sh" drain $draining
  fi
  for job in $(jobs_of changed) $(jobs_of removed); do
    stop_job "$job"
  done
  ln -sfn "$links" /var/vcap/data/picf/current.next
  mv -T /var/vcap/data/picf/current.next /var/vcap/data/picf/current
  install -m 0644 "$bundle/state.unverified.json" /var/vcap/picf/state.json.partial
  mv -f /var/vcap/picf/state.json.partial /var/vcap/picf/state.json
  echo "switched to $deploy_id"
fi
if [ ! -e "$bundle/.loaded" ]; then
  changed=$(jobs_of changed)
  if [ -n "$changed" ]; then
    sh "$bundle/lifecycle.sh" pre-start $changed
  fi
  was=$(incarnation)
  while [ -n "$was" ] && [ "$(date +%s)" -le "$was" ]; do sleep 0.2; done
  monit reload
  echo "monit reloaded"
fi
tries=0
now=$(incarnation)
until [ -n "$now" ] && [ "$now" != "$was" ]; do
  tries=$((tries + 1))
  [ "$tries" -lt 150 ] || { echo "monit has not reloaded 30 s after \`monit reload\`" >&2; exit 1; }
  sleep 0.2
  now=$(incarnation)
done
touch "$bundle/.loaded"
