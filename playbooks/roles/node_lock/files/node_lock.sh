#!/bin/sh
# picf: a node's deploy lock, so two controllers (or two deploys) never switch or restart one node together.
#   node_lock.sh take OWNER LEASE_SECONDS    exit 3 (and say who) when another owner's lease has not expired
#   node_lock.sh release OWNER
# The lock is a lease in /var/vcap/picf/deploy.owner ("OWNER UNTIL"): a controller that dies mid-deploy leaves
# a lease that expires. flock makes the check and the write one step.
set -eu
dir=/var/vcap/picf
mkdir -p "$dir"
exec 9>>"$dir/deploy.flock"
flock -w 60 9
now=$(date +%s)
owner="" until=0
if [ -s "$dir/deploy.owner" ]; then
  read -r owner until < "$dir/deploy.owner" || true
fi
case "$1" in
  take)
    if [ -n "$owner" ] && [ "$owner" != "$2" ]; then
      if [ "$until" -gt "$now" ]; then
        echo "another controller is deploying to this node: $owner (its lease ends in $((until - now)) s)" >&2
        exit 3
      fi
      echo "took over the expired deploy lock of $owner"
    fi
    printf '%s %s\n' "$2" "$((now + $3))" > "$dir/deploy.owner.new"
    mv -f "$dir/deploy.owner.new" "$dir/deploy.owner"
    ;;
  release)
    if [ "$owner" = "$2" ]; then rm -f "$dir/deploy.owner"; fi
    ;;
  *)
    echo "usage: $0 take OWNER LEASE_SECONDS | release OWNER" >&2
    exit 2
    ;;
esac
