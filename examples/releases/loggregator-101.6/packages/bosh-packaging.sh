#!/bin/bash
# Run a BOSH release's own packaging script for $BOSH_PACKAGE_NAME under picf: its /var/vcap/packages paths
# point at picf's compile area, and "golang" is the Go that `make setup` installed. GOARCH/GOARM/CC are set
# by picf for the target arch.
set -euo pipefail
packaging="$BOSH_COMPILE_TARGET/packages/$BOSH_PACKAGE_NAME/packaging"
mkdir -p "$BOSH_PACKAGES_DIR"
ln -sfn "$(go env GOROOT)" "$BOSH_PACKAGES_DIR/golang"
sed "s#/var/vcap/packages#$BOSH_PACKAGES_DIR#g" "$packaging" > "$BOSH_COMPILE_TARGET/picf-packaging"
cd "$BOSH_COMPILE_TARGET"
export GOPATH="$BOSH_COMPILE_TARGET" GO111MODULE=off
bash -e "$BOSH_COMPILE_TARGET/picf-packaging"
