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
  # A killed picf stays a zombie until its parent reaps it, and kill -0 still reaches a zombie; meanwhile the
  # pty's hangup may already have ended this group's leader. So dead means gone, zombie or exiting.
  picf_alive() {
    stat=$(cat "/proc/$PICF_PID/stat" 2>/dev/null) || return 1
    state=${stat##*) }
    case ${state%% *} in Z | X | x) return 1 ;; esac
    return 0
  }
  while picf_alive && kill -0 "$group" 2>/dev/null; do sleep 0.5; done
  # The group can end a moment before picf's death shows (the hangup comes as picf exits): look once more.
  picf_alive && sleep 1
  if ! picf_alive; then
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
