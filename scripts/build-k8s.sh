#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager, kube-scheduler and kubelet 1.20.2 from Debian's
# source package and cache them under ~/.cache/edgewise/k8s-1.20.2/bin. Idempotent: exits at once
# when every binary is cached, and builds only the missing ones otherwise (a cache made before the
# node existed gains kubelet + kube-scheduler without rebuilding the control plane).
# Needs root (apt). See /work/shared/recipes/kubernetes.md and node.md.
set -euo pipefail

VERSION=1.20.2
CACHE="${EDGEWISE_K8S_CACHE:-$HOME/.cache/edgewise/k8s-$VERSION}"
BIN="$CACHE/bin"

ALL=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
missing=()
for b in "${ALL[@]}"; do
  [[ -x "$BIN/$b" ]] || missing+=("$b")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "build-k8s: cached binaries in $BIN"
  exit 0
fi
echo "build-k8s: building ${missing[*]}"

export DEBIAN_FRONTEND=noninteractive
SRC_LIST=/etc/apt/sources.list.d/debian-src.sources
if [[ ! -f "$SRC_LIST" ]]; then
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  cat >"$SRC_LIST" <<SRC
Types: deb-src
URIs: $uri
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get -o DPkg::Lock::Timeout=600 update -q
fi
pkgs=(golang-go etcd-server rsync openssl golang-github-modern-go-reflect2-dev)
# kubectl may already come from another package (it would conflict with kubernetes-client).
command -v kubectl >/dev/null || pkgs+=(kubernetes-client)
apt-get -o DPkg::Lock::Timeout=600 install -y -q "${pkgs[@]}"

WORK="$CACHE/src"
mkdir -p "$WORK"
cd "$WORK"
if ! ls -d kubernetes-*/ >/dev/null 2>&1; then
  apt-get source --download-only kubernetes
  tar xf kubernetes_*.orig.tar.*
fi
tree=$(ls -d kubernetes-*/ | head -1)
cd "$tree"
# 1.20.2 vendors modern-go/reflect2 1.0.1, whose map iteration faults under Go >= 1.18 (the
# apiserver dies with "fatal error: fault" in mapiterinit on the first custom resource).
# reflect2 1.0.2 fixes it; Debian ships it.
R2=/usr/share/gocode/src/github.com/modern-go/reflect2
if [[ -d "$R2" ]] && ! cmp -s "$R2/unsafe_map.go" vendor/github.com/modern-go/reflect2/unsafe_map.go; then
  rm -rf vendor/github.com/modern-go/reflect2
  cp -r "$R2" vendor/github.com/modern-go/reflect2
  find vendor/github.com/modern-go/reflect2 -name '*_test.go' -delete
fi
# The Makefile runs the OpenAPI/deepcopy generators a plain `go build` would miss.
what=()
for b in "${missing[@]}"; do what+=("cmd/$b"); done
make WHAT="${what[*]}"
mkdir -p "$BIN"
for b in "${missing[@]}"; do
  cp "$(find _output -type f -name "$b" -perm -u+x | head -1)" "$BIN/$b.tmp"
  mv "$BIN/$b.tmp" "$BIN/$b"
done
cd "$CACHE"
rm -rf "$WORK"  # 1.4 GB of sources and objects; the binaries are all we need
echo "build-k8s: built into $BIN"
