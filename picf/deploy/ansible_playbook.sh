#!/bin/sh
# picf: ansible-playbook for one deploy batch, tied to the life of the picf process that started it.
# ansible-runner starts this in a session of its own (a pty), so this pid is also the process group of the
# whole run: Ansible's workers and their ssh. A watcher ends with the run; if picf dies first (SIGKILL
# included: nothing in picf runs then), it kills every process that inherited this run's PICF_PID, wherever
# it went, then the whole group: Mitogen's multiplexer leaves the group and outlives its parent.
# So no Ansible keeps changing nodes alone.
group=$$
(
  # picf's death closes the pty: its hangup must not take this watcher with the rest of the group.
  trap '' HUP INT TERM
  read -r me _ < /proc/self/stat
  while kill -0 "$PICF_PID" 2>/dev/null && kill -0 "$group" 2>/dev/null; do sleep 0.5; done
  if ! kill -0 "$PICF_PID" 2>/dev/null; then
    for round in 1 2; do
      for proc in /proc/[0-9]*; do
        pid=${proc#/proc/}
        [ "$pid" = "$me" ] && continue
        tr '\0' '\n' < "$proc/environ" 2>/dev/null | grep -qx "PICF_PID=$PICF_PID" && kill -KILL "$pid" 2>/dev/null
      done
    done
    kill -KILL -"$group" 2>/dev/null  # this watcher is in the group too: last
  fi
) </dev/null >/dev/null 2>&1 &
exec "$PICF_ANSIBLE_PLAYBOOK" "$@"
