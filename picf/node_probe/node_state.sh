# What a node runs and how picf may act on it (deploy): picf's state file, whether the node is prepared (the
# base role's mark and monit running), which package versions it holds, the jobs `picf stop` stopped, the
# memory cgroup, and how the SSH user gets root. A deploy asks every node this before it knows whether there is
# anything to do, so files are read with `read` and the packages listed with a glob.
echo @@picf:state; [ -r /var/vcap/picf/state.json ] && _picf_lines /var/vcap/picf/state.json
echo @@picf:prepared
[ -r /var/vcap/picf/base.ready ] && _picf_lines /var/vcap/picf/base.ready
pgrep -x monit >/dev/null 2>&1 && echo monit-running
echo @@picf:stopped; for _s in /var/vcap/picf/stopped/*; do [ -e "$_s" ] && printf '%s\n' "${_s##*/}"; done
echo @@picf:packages
for _p in /var/vcap/data/packages/*/*; do [ -e "$_p" ] && printf '%s\n' "$_p"; done
picf_cgroup
echo @@picf:sudo
if [ "$(id -u)" = 0 ]; then echo root
elif ! command -v sudo >/dev/null 2>&1; then echo missing
elif sudo -n true 2>/dev/null; then echo nopasswd
else echo password; fi
