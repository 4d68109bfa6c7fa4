#!/bin/sh
# picf: the Go this package asked for, cross-compiling for the node (picf's build sandbox).
#
# GOOS, GOARCH and GOARM come from the node's arch (PICF_GOARCH, PICF_GOARM) unless the script sets them. A
# cross-compiling `go install` puts binaries in $GOPATH/bin/linux_arm and refuses GOBIN: this moves them where
# a native one would put them ($GOBIN, else $GOPATH/bin), which is where packaging scripts look.
here=$(dirname "$0")
real="$here/go.real"
[ -n "${GOROOT:-}" ] || GOROOT=$(cd "$here/.." && pwd)
export GOROOT
export GOOS="${GOOS:-linux}"
export GOARCH="${GOARCH:-${PICF_GOARCH:-}}"
[ -n "$GOARCH" ] || unset GOARCH
if [ -n "${PICF_GOARM:-}" ] && [ -z "${GOARM:-}" ] && [ "${GOARCH:-}" = arm ]; then
  export GOARM="$PICF_GOARM"
fi
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

case "$(uname -m)" in
  x86_64) host=amd64 ;;
  aarch64) host=arm64 ;;
  armv*) host=arm ;;
  *) host=$(uname -m) ;;
esac
if [ "${1:-}" != install ] || { [ "${GOARCH:-$host}" = "$host" ] && [ "$GOOS" = linux ]; }; then
  exec "$real" "$@"  # not a cross-compiling install: Go does what the script expects
fi

bin="${GOBIN:-}"
unset GOBIN
"$real" "$@" || exit $?
gopath="${GOPATH:-${HOME:-/tmp}/go}"  # what `go env GOPATH` says, without starting Go again
first="${gopath%%:*}"
cross="$first/bin/${GOOS}_${GOARCH}"
[ -d "$cross" ] || exit 0
dest="${bin:-$first/bin}"
mkdir -p "$dest"
for built in "$cross"/*; do
  [ -e "$built" ] && mv -f "$built" "$dest/"
done
rmdir "$cross" 2>/dev/null || true
