#!/usr/bin/env bash
# Installs geth, go-ethereum's node, that the gethdev package starts in
# dev mode for tests. The version is the go-ethereum module go.mod pins.
# Idempotent: does nothing when `geth version` already reports it.
# The binary goes to $(go env GOBIN) or $(go env GOPATH)/bin.
#
# Usage: chain/safe/gethdev/install.sh
# The version can be overridden with GETH_VERSION (e.g. v1.17.10).
set -euo pipefail

version="${GETH_VERSION:-v1.17.10}"

bindir="$(go env GOBIN)"
if [ -z "$bindir" ]; then
  bindir="$(go env GOPATH | cut -d: -f1)/bin"
fi

installed() {
  [ -x "$bindir/geth" ] || return 1
  # "Version: 1.17.10-stable"
  "$bindir/geth" version 2>/dev/null |
    awk -F': ' '$1 == "Version" { print $2 }' |
    grep -q "^${version#v}-" || return 1
}

if ! installed; then
  echo "gethdev: installing geth $version into $bindir (compiles for a few minutes)"
  # Outside any module, so the repository's go.mod is neither read nor
  # changed; GOFLAGS is cleared for the same reason.
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && GOFLAGS= GO111MODULE=on go install \
    "github.com/ethereum/go-ethereum/cmd/geth@$version")
fi

echo "gethdev: $("$bindir/geth" version 2>/dev/null | awk -F': ' '$1 == "Version" { print "geth " $2 }') at $bindir/geth"
