# picf's health probe. The poller defines these functions once in a shell it keeps open on each node and then
# sends `picf_probe NONCE` once per poll: nothing is installed on the Pi, and a poll costs one line each way.
# Sections start with `@@picf:NAME`; lines that come from files a job can write are prefixed with `| ` so no
# log line can pose as a section, and the end marker carries the poll's nonce.
# A healthy poll forks twice (monit's status, vcgencmd); the rest is shell built-ins. Disk use is read on the
# first poll and every tenth; monit's log and the logs of jobs are read only when a job is not running.
_picf_n=0
_picf_lines() { # FILE [PREFIX]: print a file's lines (built-ins only)
  while IFS= read -r _l || [ -n "$_l" ]; do printf '%s%s\n' "$2" "$_l"; done < "$1"
}
picf_probe() {
  _picf_n=$((_picf_n + 1)); _nonce=$1
  echo "@@picf:begin $_nonce"
  echo "@@picf:model"
  _m=; { IFS= read -r _m < /sys/firmware/devicetree/base/model || IFS= read -r _m < /proc/device-tree/model; } 2>/dev/null
  printf '%s\n' "$_m"
  echo "@@picf:uptime"; _picf_lines /proc/uptime
  echo "@@picf:loadavg"; _picf_lines /proc/loadavg
  echo "@@picf:stat"
  while read -r _k _r; do case $_k in cpu|btime) echo "$_k $_r" ;; esac; done < /proc/stat
  echo "@@picf:meminfo"
  while read -r _k _r; do case $_k in MemTotal:|MemAvailable:|SwapTotal:|SwapFree:) echo "$_k $_r" ;; esac
  done < /proc/meminfo
  if [ $((_picf_n % 10)) -eq 1 ]; then
    echo "@@picf:df" # PATH FILESYSTEM 1024-BLOCKS USED AVAILABLE CAPACITY MOUNTED-ON
    for _d in / /var/vcap/data; do
      [ -d "$_d" ] && df -P -k "$_d" 2>/dev/null | { read -r _h; read -r _r && echo "$_d $_r"; }
    done
  fi
  echo "@@picf:temp"; _picf_lines /sys/class/thermal/thermal_zone0/temp 2>/dev/null
  echo "@@picf:vcgencmd"
  command -v vcgencmd >/dev/null 2>&1 && vcgencmd get_throttled 2>/dev/null
  echo "@@picf:cgroup"
  while read -r _k _a _b _c; do [ "$_k" = memory ] && echo "v1 $_c"; done < /proc/cgroups 2>/dev/null
  [ -r /sys/fs/cgroup/cgroup.controllers ] && { printf 'v2 '; _picf_lines /sys/fs/cgroup/cgroup.controllers; }
  [ -d /var/vcap/monit ] || { echo "@@picf:end $_nonce"; return; }
  echo "@@picf:monit"
  _x=$(wget -q -T 2 -O - 'http://127.0.0.1:2822/_status?format=xml' 2>/dev/null \
       || curl -sf -m 2 'http://127.0.0.1:2822/_status?format=xml' 2>/dev/null)
  printf '%s\n' "$_x"
  _bad=
  case $_x in ''|*'<monitor>0<'*|*'<monitor>2<'*|*'<status>'[1-9]*) _bad=1 ;; esac
  echo "@@picf:state"
  [ -r /var/vcap/picf/state.json ] && _picf_lines /var/vcap/picf/state.json '| '
  for _f in /var/vcap/monit/job/*.monitrc; do
    [ -r "$_f" ] || continue
    _j=${_f##*/}; _j=${_j%.monitrc}; _pf=; _pid=
    while IFS= read -r _l; do case $_l in *"with pidfile "*) _pf=${_l##*with pidfile } ;; esac; done < "$_f"
    # shellcheck disable=SC2086
    set -- $_pf
    [ -n "$1" ] && read -r _pid < "$1" 2>/dev/null
    [ -n "$_pid" ] && [ -d "/proc/$_pid" ] && continue
    _bad=1
    echo "@@picf:log $_j"
    for _lf in /var/vcap/sys/log/"$_j"/*.log; do
      [ -f "$_lf" ] && { echo "| ==> ${_lf##*/}"; tail -n 25 "$_lf" | cut -c 1-400 | sed 's/^/| /'; }
    done
  done
  if [ -n "$_bad" ] && [ -r /var/vcap/monit/monit.log ]; then
    echo "@@picf:monitlog"
    tail -n 400 /var/vcap/monit/monit.log | grep -E "' (process is not running|trying to restart|failed to start|\
process is running|service restarted|[a-z]+ on user request|Monit reloaded|Monit [0-9.]+ started)" \
      | tail -n 60 | sed 's/^/| /'
  fi
  echo "@@picf:end $_nonce"
}
