#!/bin/sh
# picf: ansible-playbook for one deploy run, tied to the life of the picf process that started it.
# ansible-runner starts this in a session of its own (a pty), so this pid is also the process group of the
# whole run: Ansible's workers and their ssh. Mitogen's multiplexers leave the group (each in a session of
# its own), and when the run ends abruptly (cancelled, killed) they wait on each other forever. So a watcher
# ends with the run and takes its strays (every process that inherited PICF_RUN, set to this pid below):
# - the run ended while picf lives: the strays, but not OpenSSH's ControlPersist masters (they end alone);
# - picf died first (SIGKILL included: nothing in picf runs then): every process that inherited this
#   picf's PICF_PID, wherever it went, then the whole group.
# So no Ansible keeps changing nodes alone, and no run leaves processes behind. The watcher is this script
# again, in a session of its own: ansible-runner cancels a run by SIGKILLing its group, and picf's death
# hangs up the pty; neither may take the watcher with the run.
if [ "$1" = --picf-watch ]; then
  group=$2
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
  # kill_marked VAR=VALUE [spare-comm]: SIGKILL every process whose environment holds VAR=VALUE.
  kill_marked() {
    for round in 1 2; do
      for proc in /proc/[0-9]*; do
        pid=${proc#/proc/}
        [ "$pid" = "$me" ] && continue
        if [ -n "$2" ] && [ "$(cat "$proc/comm" 2>/dev/null)" = "$2" ]; then continue; fi
        tr '\0' '\n' < "$proc/environ" 2>/dev/null | grep -qx "$1" && kill -KILL "$pid" 2>/dev/null
      done
    done
  }
  while picf_alive && kill -0 "$group" 2>/dev/null; do sleep 0.5; done
  # A run's own end: its multiplexers get a moment to leave by themselves. A death: the hangup comes as
  # picf exits, so the group can end a moment before picf's death shows; look again after the moment.
  picf_alive && sleep 2
  if picf_alive; then
    kill_marked "PICF_RUN=$group" ssh
  else
    kill_marked "PICF_PID=$PICF_PID"
    kill -KILL -"$group" 2>/dev/null
  fi
  exit 0
fi
group=$$
setsid /bin/sh "$0" --picf-watch "$group" </dev/null >/dev/null 2>&1 &
# Ansible starts once the watcher has left this group: a cancel at once must not take the watcher too.
watcher=$!
while stat=$(cat "/proc/$watcher/stat" 2>/dev/null); do
  fields=${stat##*) }  # state ppid pgrp ...
  fields=${fields#* }
  fields=${fields#* }
  [ "${fields%% *}" != "$group" ] && break
  sleep 0.01
done
PICF_RUN=$group
export PICF_RUN
exec "$PICF_ANSIBLE_PLAYBOOK" "$@"
