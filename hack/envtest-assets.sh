#!/usr/bin/env bash
# envtest-assets.sh prints the directory that holds kube-apiserver, etcd and
# kubectl for envtest (KUBEBUILDER_ASSETS), providing them first if needed.
#
# Order of attempts, cheapest first:
#   1. binaries already installed in setup-envtest's store (offline, seconds);
#   2. setup-envtest's normal download (needs the internet);
#   3. a build from the Go module proxy: etcd from go.etcd.io/etcd/server/v3,
#      kube-apiserver from k8s.io/kubernetes with every staging module replaced
#      by its published v0.x.y release. The result goes into setup-envtest's
#      store, so it is built once per machine (about 12 minutes on 2 cores).
#
# The platform is Go's (`go env GOOS GOARCH`): linux-amd64 on most CI machines, darwin-arm64 on
# an Apple silicon Mac. The script needs bash and POSIX tools only (no GNU coreutils).
#
# Progress goes to stderr; stdout carries only the final path.
#
# Usage: hack/envtest-assets.sh SETUP_ENVTEST_BIN K8S_VERSION BIN_DIR
#   K8S_VERSION is a full version such as 1.37.2 (from k8s.io/api v0.37.2).
set -euo pipefail

ENVTEST=${1:?setup-envtest binary}
K8S_VERSION=${2:?kubernetes version, e.g. 1.37.2}
BIN_DIR=${3:?bin directory}

log() { printf 'envtest-assets: %s\n' "$*" >&2; }

# setup-envtest's own store, so the binaries are found by `setup-envtest use -i`
# from any checkout on this machine (CI included) and never built twice.
STORE=${ENVTEST_STORE:-${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest}
GOOS=$(go env GOOS)
GOARCH=$(go env GOARCH)
PLATFORM_DIR="$STORE/k8s/${K8S_VERSION}-${GOOS}-${GOARCH}"

have_assets() {
  [[ -x "$1/kube-apiserver" && -x "$1/etcd" && -x "$1/kubectl" ]]
}

# with_timeout SECONDS CMD... runs CMD, killed after SECONDS. macOS has no timeout(1) unless
# coreutils are installed (as gtimeout), so a watchdog in the background stands in for it.
with_timeout() {
  local secs=$1
  shift
  if command -v timeout >/dev/null 2>&1; then
    timeout "$secs" "$@"
  elif command -v gtimeout >/dev/null 2>&1; then
    gtimeout "$secs" "$@"
  else
    "$@" &
    local pid=$!
    (sleep "$secs" && kill "$pid") >/dev/null 2>&1 &
    local watchdog=$!
    local rc=0
    wait "$pid" || rc=$?
    kill "$watchdog" 2>/dev/null || true
    return "$rc"
  fi
}

finish() {
  # bin/k8s/current is a stable path for scripts and editors.
  mkdir -p "$BIN_DIR/k8s"
  ln -sfn "$1" "$BIN_DIR/k8s/current"
  printf '%s\n' "$1"
  exit 0
}

# 1. Already installed (by us or by setup-envtest).
if path=$("$ENVTEST" use "$K8S_VERSION" -i --os "$GOOS" --arch "$GOARCH" --bin-dir "$STORE" -p path 2>/dev/null) &&
  have_assets "$path"; then
  finish "$path"
fi

# 2. Normal download, bounded so an unreachable network fails fast.
log "Downloading envtest binaries for Kubernetes $K8S_VERSION ($GOOS/$GOARCH) with setup-envtest..."
if path=$(with_timeout 60 "$ENVTEST" use "$K8S_VERSION" --os "$GOOS" --arch "$GOARCH" --bin-dir "$STORE" -p path \
  2>/dev/null) && have_assets "$path"; then
  finish "$path"
fi

# 3. Build from the Go module proxy.
log "Download failed (no internet?). Building kube-apiserver and etcd $K8S_VERSION for $GOOS/$GOARCH from the Go module proxy."
log "This happens once per machine and takes about 12 minutes on 2 cores; later runs take seconds."

WORK=$(mktemp -d "${TMPDIR:-/tmp}/envtest-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/out"
mkdir -p "$OUT"
# GOOS and GOARCH are exported so the binaries are built for the platform the store directory names.
export GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOOS GOARCH

KUBE_MOD=$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[[ -f "$KUBE_MOD" ]] || { log "could not download k8s.io/kubernetes@v${K8S_VERSION}"; exit 1; }
STAGING_VERSION="v0.${K8S_VERSION#*.}"
ETCD_VERSION=$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2; exit}' "$KUBE_MOD")
ETCD_VERSION=${ETCD_VERSION:-v3.6.5}

# kube-apiserver: a throwaway module that requires k8s.io/kubernetes and maps
# each "k8s.io/x => ./staging/..." replace to the published release.
mkdir -p "$WORK/apiserver"
(
  cd "$WORK/apiserver"
  go mod init envtest.local/apiserver >/dev/null 2>&1
  {
    echo "require k8s.io/kubernetes v${K8S_VERSION}"
    awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$KUBE_MOD" | sort -u |
      while read -r m; do echo "replace $m => $m $STAGING_VERSION"; done
  } >>go.mod
  printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >tools.go
  log "Resolving k8s.io/kubernetes v${K8S_VERSION} (staging modules at $STAGING_VERSION)..."
  go mod tidy -e >/dev/null 2>&1 || true
  log "Compiling kube-apiserver (the slow part)..."
  go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#*.}" \
    -o "$OUT/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  log "Compiling kubectl..."
  go build -trimpath -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=v${K8S_VERSION} -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION}" \
    -o "$OUT/kubectl" k8s.io/kubernetes/cmd/kubectl 2>/dev/null ||
    cp "$(command -v kubectl)" "$OUT/kubectl"
) >&2 &
APISERVER_PID=$!

# etcd: a tiny main around etcdmain.Main, built in parallel.
mkdir -p "$WORK/etcd"
(
  cd "$WORK/etcd"
  go mod init envtest.local/etcd >/dev/null 2>&1
  cat >main.go <<'EOF'
// Command etcd is etcd's own server, built from the module proxy for envtest.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION" >>go.mod
  go mod tidy >/dev/null 2>&1
  log "Compiling etcd $ETCD_VERSION..."
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" .
) >&2
wait "$APISERVER_PID"

mkdir -p "$PLATFORM_DIR"
install -m 0755 "$OUT/kube-apiserver" "$OUT/etcd" "$OUT/kubectl" "$PLATFORM_DIR/"
log "Installed envtest binaries into $PLATFORM_DIR"
finish "$PLATFORM_DIR"
