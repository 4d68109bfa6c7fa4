# picf's health probe. The poller defines these functions once in a shell it keeps open on each node and then
# sends `picf_probe NONCE [fresh]` once per poll: nothing is installed on the Pi, and a poll costs one line each
# way. Sections start with `@@picf:NAME`; lines from files a job can write are prefixed with `| ` so no log line
# can pose as a section, and the end marker carries the poll's nonce.
#
# Cheap by design (a Pi Zero runs this every second or two): file reads are shell built-ins; a healthy poll
# forks once (vcgencmd). Each job's pid is checked on every poll; monit's view (an HTTP request monit takes
# milliseconds to answer) is re-read when a job's pid died or changed, after half a monit cycle, or with `fresh`.
# Disk use is read on the first poll and every tenth; picf's state file when monit is re-read.
_picf_n=0 _picf_at=-1000000 _picf_x= _picf_pids= _picf_btime=
picf_probe() {
  _picf_n=$((_picf_n + 1)); _nonce=$1 _fresh=$2
  echo "@@picf:begin $_nonce"
  echo "@@picf:model"
  _m=; { IFS= read -r _m < /sys/firmware/devicetree/base/model || IFS= read -r _m < /proc/device-tree/model; } 2>/dev/null
  printf '%s\n' "$_m"
  read -r _up _idle < /proc/uptime
  echo "@@picf:uptime"; echo "$_up $_idle"
  echo "@@picf:loadavg"; _picf_lines /proc/loadavg
  echo "@@picf:stat"; read -r _cpu < /proc/stat; echo "$_cpu"
  if [ -z "$_picf_btime" ]; then # boot time, once per shell: with the uptime it gives the node's clock
    while read -r _k _v; do [ "$_k" = btime ] && { _picf_btime=$_v; break; }; done < /proc/stat
  fi
  echo "btime $_picf_btime"
  echo "@@picf:meminfo"
  while read -r _k _v _u; do
    case $_k in MemTotal:|MemAvailable:|SwapTotal:) echo "$_k $_v" ;; SwapFree:) echo "$_k $_v"; break ;; esac
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
  picf_cgroup
  [ -d /var/vcap/monit ] || { echo "@@picf:end $_nonce"; return; }
  # each job's pid, from its pidfile: alive or not, and whether it changed since the last poll
  _bad= _pids= _dead=
  for _f in /var/vcap/monit/job/*.monitrc; do
    [ -r "$_f" ] || continue
    _j=${_f##*/}; _j=${_j%.monitrc}; _pf=; _pid=
    while IFS= read -r _l; do case $_l in *"with pidfile "*) _pf=${_l##*with pidfile } ;; esac; done < "$_f"
    # shellcheck disable=SC2086
    set -- $_pf
    [ -n "$1" ] && read -r _pid < "$1" 2>/dev/null
    _pids="$_pids $_j=$_pid"
    [ -n "$_pid" ] && [ -d "/proc/$_pid" ] && continue
    _bad=1 _dead="$_dead $_j"
  done
  [ "$_pids" = "$_picf_pids" ] || _bad=1
  _picf_pids=$_pids
  _now=${_up%.*}
  _poll=2; case $_picf_x in *'<poll>'[0-9]*) _poll=${_picf_x#*<poll>}; _poll=${_poll%%<*} ;; esac
  if [ -n "$_bad" ] || [ "$_fresh" = fresh ] || [ $((_now - _picf_at)) -ge $(((_poll + 1) / 2)) ]; then
    _picf_x=$(wget -q -T 2 -O - 'http://127.0.0.1:2822/_status?format=xml' 2>/dev/null \
              || curl -sf -m 2 'http://127.0.0.1:2822/_status?format=xml' 2>/dev/null)
    _picf_at=$_now
    echo "@@picf:state"
    [ -r /var/vcap/picf/state.json ] && _picf_lines /var/vcap/picf/state.json '| '
    echo "@@picf:stopped" # the jobs `picf stop` stopped
    for _s in /var/vcap/picf/stopped/*; do [ -e "$_s" ] && printf '| %s\n' "${_s##*/}"; done
  fi
  echo "@@picf:monit $((_now - _picf_at))" # seconds since monit was asked
  printf '%s\n' "$_picf_x"
  case $_picf_x in ''|*'<monitor>0<'*|*'<monitor>2<'*|*'<status>'[1-9]*) _bad=1 ;; esac
  for _j in $_dead; do
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
