#!/bin/sh
# picf logs, on the node: what the jobs wrote to /var/vcap/sys/log/JOB/ since the last round.
#
#   sh -c "$(cat logs.sh)" logs LINES SINCE JOB... -- [JOB/REL<tab>INODE<tab>OFFSET<tab>SUM...]
#
# Every regular file under each job's log directory (not compressed rotations), with what it holds past the
# OFFSET the last round read to: all of it for a file the last round did not see, from the start for a file
# that was replaced (another inode) or truncated (shorter than OFFSET, or other bytes just before it). A first round (no FILE given) sends
# each file's last LINES lines, and nothing of a file last written before SINCE (a Unix time; 0: any).
# Output: "@@file JOB/REL INODE SIZE START HOW SUM" then the bytes START..SIZE, every line prefixed with "|";
# "@@denied JOB" when this user may not read something (picf asks again through sudo); "@@missing JOB";
# "@@end" last. At most CAP bytes of a file per round: the rest is skipped and said so (HOW "skipped").
root=${PICF_LOG_ROOT:-/var/vcap/sys/log}
cap=1048576
lines=$1 since=$2
shift 2
jobs=""
while [ $# -gt 0 ] && [ "$1" != -- ]; do jobs="$jobs $1"; shift; done
[ "$1" = -- ] && shift
first=1
[ $# -gt 0 ] && first=""
# The checksum of the 16 bytes before OFFSET: a file truncated and written again past where the last round
# stopped has the same inode and is no shorter, but not the same bytes there.
tail16() {
  [ "$2" -gt 0 ] || { echo 0; return; }
  from=$(($2 - 15)) n=16
  [ "$from" -ge 1 ] || { from=1 n=$2; }
  tail -c +"$from" "$1" 2>/dev/null | head -c "$n" | cksum | cut -d ' ' -f 1
}
state=$(printf '%s\n' "$@")
for job in $jobs; do
  dir=$root/$job
  if [ ! -e "$dir" ]; then echo "@@missing $job"; continue; fi
  if [ ! -r "$dir" ] || [ ! -x "$dir" ] || [ -n "$(find "$dir" ! -readable 2>/dev/null | head -n 1)" ]; then
    echo "@@denied $job"
    continue
  fi
  find "$dir" -type f ! -name '*.gz' 2>/dev/null | LC_ALL=C sort | while IFS= read -r f; do
    rel=$job/${f#"$dir"/}
    set -- $(stat -c '%i %s %Y' "$f" 2>/dev/null) || continue
    inode=$1 size=$2 mtime=$3
    how=new start=0
    known=$(printf '%s\n' "$state" | awk -v name="$rel" -F '\t' '$1 == name { print $2 " " $3 " " $4; exit }')
    if [ -n "$known" ]; then
      set -- $known
      if [ "$1" = "$inode" ] && [ "$size" -ge "$2" ] && [ "$(tail16 "$f" "$2")" = "$3" ]; then how=cont start=$2
      elif [ "$1" = "$inode" ]; then how=truncated
      else how=replaced; fi
    elif [ -n "$first" ]; then
      how=tail
      if [ "$since" -gt 0 ] && [ "$mtime" -lt "$since" ]; then
        start=$size
      else
        count=$(head -c "$size" "$f" | tail -n "$lines" | wc -c)
        start=$((size - count))
      fi
    fi
    if [ $((size - start)) -gt "$cap" ]; then start=$((size - cap)) how=skipped; fi
    echo "@@file $rel $inode $size $start $how $(tail16 "$f" "$size")"
    [ "$size" -gt "$start" ] && tail -c +"$((start + 1))" "$f" | head -c "$((size - start))" | sed 's/^/|/'
    echo
  done
done
echo "@@end"
