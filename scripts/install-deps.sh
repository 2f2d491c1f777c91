#!/usr/bin/env bash
# Installs the Debian packages BlockSwarm's demo and tests use (real filesystems, real
# BitTorrent peers, partclone). Idempotent: does nothing when all are present.
set -euo pipefail
PKGS=(
  e2fsprogs dosfstools mtools ntfs-3g xfsprogs fdisk util-linux   # real filesystems and partition tables
  partclone                                                      # cross-checks of used-block maps and torrent.info
  aria2 python3-libtorrent transmission-cli opentracker          # interoperability peers and tracker
  python3-grpcio python3-grpc-tools                              # a gRPC client of the EZIO daemon that is not ours (stubs generated from its .proto)
  time iproute2 curl                                             # GNU time (peak RSS and CPU of tests and benchmarks); network namespaces, veth, tc; HTTP from inside a namespace (tracker scrape, lab)
  clang                                                          # NativeAOT links the published CLI with it (demo.sh, bench, lab)
  chromium fonts-dejavu-core                                     # headless browser test of the dashboard (Playwright drives /usr/bin/chromium)
  prometheus                                                     # promtool check metrics: serve's /metrics checked by Prometheus' own parser and lint (the server is not started)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
