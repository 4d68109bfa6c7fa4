#!/bin/sh
# picf: ansible-playbook for one deploy batch, tied to the life of the picf process that started it.
# ansible-runner starts this in a session of its own (a pty), so this pid is also the process group of the
# whole run: Ansible's workers and their ssh. A watcher ends with the run; if picf dies first (SIGKILL
# included: nothing in picf runs then), it kills the whole group, so no Ansible keeps changing nodes alone.
group=$$
(
  while kill -0 "$PICF_PID" 2>/dev/null && kill -0 "$group" 2>/dev/null; do sleep 0.5; done
  kill -0 "$PICF_PID" 2>/dev/null || kill -KILL -"$group" 2>/dev/null
) </dev/null >/dev/null 2>&1 &
exec "$PICF_ANSIBLE_PLAYBOOK" "$@"
