# picf's identify probe (discovery): what FACTS.md says to trust on a Pi. The device-tree model, the cpuinfo
# revision code, the userland architecture (`dpkg --print-architecture` / `getconf LONG_BIT`, not `uname -m`,
# which says aarch64 for a 32-bit OS on a 64-bit kernel), memory, the memory cgroup, the OS release. Files are
# read with the shell's own `read`; only the three facts no file holds start a program.
dt=/sys/firmware/devicetree/base; [ -r $dt/model ] || dt=/proc/device-tree
m= r= k= o= h=
[ -r $dt/model ] && IFS= read -r m < $dt/model
[ -r /proc/cpuinfo ] && while IFS= read -r l; do
  case $l in Revision*:*) [ -n "$r" ] || { r=${l#*:}; r=${r# }; } ;; esac
done < /proc/cpuinfo
[ -r /proc/meminfo ] && while read -r n v _; do [ "$n" = MemTotal: ] && { k=$v; break; }; done < /proc/meminfo
[ -r /etc/os-release ] && while IFS= read -r l; do
  case $l in PRETTY_NAME=*) o=${l#*=}; o=${o#\"}; o=${o%\"} ;; esac
done < /etc/os-release
[ -r /proc/sys/kernel/hostname ] && read -r h < /proc/sys/kernel/hostname
printf '@@picf:%s\n%s\n' model "$m" revision "$r" dpkg_arch "$(dpkg --print-architecture 2>/dev/null)" \
  long_bit "$(getconf LONG_BIT 2>/dev/null)" uname_m "$(uname -m 2>/dev/null)" mem_total_kb "$k"
picf_cgroup
printf '@@picf:%s\n%s\n' os "$o" hostname "$h"
