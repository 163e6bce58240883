#!/usr/bin/env bash
# Install Debian trixie's wireguard-go (upstream 0.0.20230223 and later: tun offloads, UDP GSO/GRO,
# batched I/O) on a bookworm machine, as root. Bookworm's 0.0.20220316 has none of these and moves
# about a third of the data (docs/slices.md). The package needs only libc6 >= 2.34 (bookworm has
# 2.36). A throwaway apt configuration reads trixie's index from Debian's archive: the machine's
# own apt sources are not changed, and nothing else comes from trixie.
set -euo pipefail

MIN_VERSION=0.0.20230223
installed=$(dpkg-query -W -f='${Version}' wireguard-go 2>/dev/null || true)
if [ -n "$installed" ] && dpkg --compare-versions "$installed" ge "$MIN_VERSION"; then
  echo "wireguard-go $installed already installed"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/parts" "$tmp/deb"
cat > "$tmp/parts/trixie.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
opts=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$tmp/parts"
      -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o "APT::Get::List-Cleanup=0"
      -o "APT::Sandbox::User=root")
apt-get "${opts[@]}" update -qq
(cd "$tmp/deb" && apt-get "${opts[@]}" download -qq wireguard-go)
dpkg -i "$tmp"/deb/wireguard-go_*.deb >/dev/null
echo "wireguard-go $(dpkg-query -W -f='${Version}' wireguard-go) installed (from trixie)"
