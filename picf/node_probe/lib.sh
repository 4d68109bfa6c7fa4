# picf's shared node functions, sent before each of its scripts. Built-ins only: each program started costs a
# Pi a fork+exec. Answers are sections: a line `@@picf:NAME`, then its lines (see sections.py).
_picf_lines() { # FILE [PREFIX]: print a file's lines
  while IFS= read -r _l || [ -n "$_l" ]; do printf '%s%s\n' "$2" "$_l"; done < "$1"
}
picf_cgroup() { # the memory cgroup as the kernel runs it: /proc/cgroups' memory row, cgroup v2's controllers
  echo "@@picf:cgroup"
  [ -r /proc/cgroups ] && while read -r _k _a _b _c; do [ "$_k" = memory ] && echo "v1 $_c"; done < /proc/cgroups
  [ -r /sys/fs/cgroup/cgroup.controllers ] && { printf 'v2 '; _picf_lines /sys/fs/cgroup/cgroup.controllers; }
  return 0
}
