#!/usr/bin/env bash
# Installs the btcd full node and its btcctl CLI that the regtest package
# starts in tests. Idempotent: does nothing when the pinned version is
# already installed. Binaries go to $(go env GOBIN) or $(go env GOPATH)/bin.
#
# Usage: chain/bitcoin/regtest/install.sh
# The version can be overridden with BTCD_VERSION (e.g. v0.26.2).
set -euo pipefail

version="${BTCD_VERSION:-v0.26.2}"

bindir="$(go env GOBIN)"
if [ -z "$bindir" ]; then
  bindir="$(go env GOPATH | cut -d: -f1)/bin"
fi

installed() {
  [ -x "$bindir/btcd" ] && [ -x "$bindir/btcctl" ] || return 1
  # `go version -m` reads the module version the binary was built from.
  go version -m "$bindir/btcd" 2>/dev/null |
    awk '$1 == "mod" && $2 == "github.com/btcsuite/btcd" { print $3 }' |
    grep -qx "$version" || return 1
  go version -m "$bindir/btcctl" 2>/dev/null |
    awk '$1 == "mod" && $2 == "github.com/btcsuite/btcd" { print $3 }' |
    grep -qx "$version"
}

if ! installed; then
  echo "regtest: installing btcd and btcctl $version into $bindir"
  # Outside any module, so the repository's go.mod is neither read nor
  # changed; GOFLAGS is cleared for the same reason.
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && GOFLAGS= GO111MODULE=on go install \
    "github.com/btcsuite/btcd@$version" \
    "github.com/btcsuite/btcd/cmd/btcctl@$version")
fi

# btcctl's own --version string is stale upstream (it says 0.23.1), so the
# module version is printed from the build info as well.
echo "regtest: $("$bindir/btcd" --version) (module $version) at $bindir/btcd"
echo "regtest: btcctl at $bindir/btcctl"
