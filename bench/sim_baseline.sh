#!/bin/sh
# The baseline for bench/sim_up.py: a simulated Pi LAN built by hand, the way the recipe in picf's issue #3
# describes it, one node at a time (netns + veth + unshare + overlay of / + chroot + sshd + avahi-daemon),
# waiting for each node's sshd before starting the next. Usage: sim_baseline.sh up N | down N
set -eu
ACTION=$1
N=$2
BR=pbase0
DIR=/run/picf-bench-baseline
if [ "$ACTION" = up ]; then
  mkdir -p $DIR && mount -t tmpfs tmpfs $DIR
  ip link add $BR type bridge && ip addr add 10.231.6.1/24 dev $BR && ip link set $BR up
  ssh-keygen -q -t ed25519 -N '' -f $DIR/key
  i=1
  while [ $i -le "$N" ]; do
    D=$DIR/n$i; mkdir -p $D/upper/etc/ssh $D/upper/root/.ssh $D/work $D/root
    ssh-keygen -q -t ed25519 -N '' -f $D/upper/etc/ssh/ssh_host_ed25519_key
    cp $DIR/key.pub $D/upper/root/.ssh/authorized_keys
    printf '[server]\nhost-name=b%s\nuse-ipv6=no\nenable-dbus=no\n[publish]\npublish-workstation=yes\n' $i > $D/avahi.conf
    ip netns add pbase-$i
    ip link add vpb-$i type veth peer name eth0 netns pbase-$i
    ip link set vpb-$i master $BR up
    ip -n pbase-$i addr add 10.231.6.$((10 + i))/24 dev eth0
    ip -n pbase-$i link set eth0 up; ip -n pbase-$i link set lo up
    ip netns exec pbase-$i unshare --mount --uts --propagation private sh -c "
      hostname b$i
      mount -t overlay overlay -o lowerdir=/,upperdir=$D/upper,workdir=$D/work $D/root
      mount -t proc proc $D/root/proc; mount -t sysfs sysfs $D/root/sys; mount --rbind /dev $D/root/dev
      mount -t tmpfs tmpfs $D/root/run; mkdir -p $D/root/run/sshd $D/root/run/avahi-daemon
      cp $D/avahi.conf $D/root/etc/avahi/bench.conf
      chroot $D/root avahi-daemon -D --no-drop-root --no-chroot -f /etc/avahi/bench.conf
      chroot $D/root /usr/sbin/sshd -o PidFile=/run/sshd.pid
      exec chroot $D/root sleep infinity" </dev/null >/dev/null 2>&1 &
    until ssh -q -i $DIR/key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
        -o ConnectTimeout=1 root@10.231.6.$((10 + i)) true 2>/dev/null; do sleep 0.05; done
    i=$((i + 1))
  done
else
  i=1
  while [ $i -le "$N" ]; do
    for pid in $(ip netns pids pbase-$i 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns delete pbase-$i 2>/dev/null || true
    i=$((i + 1))
  done
  ip link delete $BR 2>/dev/null || true
  grep -o "$DIR[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf $DIR
fi
