#!/usr/bin/env bash
# Installs the Debian packages BlockSwarm's demo and tests use (real filesystems, real
# BitTorrent peers, partclone). Idempotent: does nothing when all are present.
set -euo pipefail
PKGS=(
  e2fsprogs dosfstools mtools ntfs-3g xfsprogs fdisk util-linux   # real filesystems and partition tables
  partclone                                                      # cross-checks of used-block maps and torrent.info
  clonezilla drbl                                                # ocs-sr savedisk/restoredisk make and restore the Clonezilla image fixtures (tests/BlockSwarm.Testing/ClonezillaFixture.cs); ocs-gen-bt-slices and gen-torrent-from-ptcl (with python3-libtorrent; util-linux's unshare) make Clonezilla's own BitTorrent torrents the --clonezilla tests compare with (ClonezillaBtReference.cs)
  parted gdisk                                                 # what ocs-sr runs: parted (pt.parted, the disk size; without it no gpt-2nd), sgdisk
  pigz zstd xz-utils bzip2 lz4 lzop                              # Clonezilla's compressors: images compressed as Clonezilla does, read back by BlockSwarm.Clonezilla (and the bench's native baselines)
  libzstd1 liblzma5 libbz2-1.0                                   # the native zstd, xz/lzma and bzip2 decoders BlockSwarm.Clonezilla calls (P/Invoke)
  aria2 python3-libtorrent transmission-cli                      # interoperability peers
  udpcast                                                        # blockswarm-lab bench: the multicast baseline (udp-sender, udp-receiver), as Clonezilla multicasts
  opentracker                                                    # the tracker Clonezilla runs: the EZIO Clonezilla session test and blockswarm-lab ezio
  python3-grpcio python3-grpc-tools                              # a gRPC client of the EZIO daemon that is not ours (stubs generated from its .proto)
  time iproute2 curl                                             # GNU time (peak RSS and CPU of tests and benchmarks); network namespaces, veth, tc; HTTP from inside a namespace (tracker scrape, lab)
  clang                                                          # NativeAOT links the published CLI with it (demo.sh, bench, lab)
  chromium fonts-dejavu-core                                     # headless browser test of the dashboard (Playwright drives /usr/bin/chromium)
  qemu-system-x86 ipxe-qemu ipxe ovmf dnsmasq-base cpio          # the PXE test (NetbootVmTests): VMs that network-boot through iPXE, the site DHCP and our proxy-DHCP/TFTP, the initramfs packer
  prometheus                                                     # promtool check metrics: serve's /metrics checked by Prometheus' own parser and lint (the server is not started)
  dpkg-dev help2man                                              # packaging/build-deb.sh: dpkg-deb, dpkg-shlibdeps, objcopy (binutils); manual pages from --help
  lintian mmdebstrap systemd                                     # the .deb's checks (PackagingTests.cs): lintian, a clean Debian root to install, upgrade and purge it in, systemd-analyze verify of the units
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
