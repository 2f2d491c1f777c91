#!/usr/bin/env bash
# Builds BlockSwarm's network-boot client: a Debian kernel and an initramfs holding busybox, the network and storage
# drivers an operator's PCs have, the NativeAOT blockswarm binary with the few libraries it loads, and an init
# (packaging/netboot/init) that brings up DHCP and runs `blockswarm deploy --yes` as the kernel command line says.
#
#   packaging/netboot/build-netboot.sh [--binary PATH] [--output DIR] [--cache DIR] [--server URL] [--server-key sha256:FP]
#
# --server and --server-key go into the static boot entries below (--server-key: blockswarm.server_key=, the fingerprint
# `blockswarm serve` prints; deploy then refuses a job another key signed).
# Output (DIR, default artifacts/netboot): vmlinuz, initrd.img, boot.ipxe (static, for a plain HTTP/TFTP server;
# `blockswarm serve --netboot DIR` writes its own per request), pxelinux.cfg/default (PXELINUX / lpxelinux.0),
# grub.cfg (GRUB-EFI netboot), dnsmasq-proxy.conf (proxy-DHCP + TFTP beside the site's DHCP server) and
# MANIFEST (the Debian package versions inside). Everything comes from Debian packages fetched with
# `apt-get download` into the cache (default ~/.cache/blockswarm/netboot), so a second build needs no network.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
binary=$repo/artifacts/cli-aot-Release/blockswarm
output=$repo/artifacts/netboot
cache=${XDG_CACHE_HOME:-$HOME/.cache}/blockswarm/netboot
server=http://SERVER:8080
server_key=
while [ $# -gt 0 ]; do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --server) server=$2; shift 2 ;;
    --server-key) server_key=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-netboot.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$binary" ] || { echo "build-netboot.sh: no blockswarm binary at $binary (dotnet build BlockSwarm.slnx -c Release publishes it, or pass --binary)" >&2; exit 1; }
for tool in dpkg-deb cpio zstd apt-get apt-cache; do
  command -v $tool >/dev/null || { echo "build-netboot.sh: needs $tool" >&2; exit 1; }
done

# Kernel drivers in the image: NICs (virtio, Intel e1000/e1000e/igb/igc/ixgbe, Realtek r8169, Broadcom tg3/bnx2),
# disk controllers (virtio-blk/scsi, AHCI, legacy PATA/SATA piix, NVMe, USB storage with its host controllers).
# Realtek NICs may want firmware from Debian's non-free-firmware section (firmware-realtek); it is not included.
modules="virtio_pci virtio_net virtio_blk virtio_scsi e1000 e1000e igb igc ixgbe r8169 tg3 bnx2 ahci ata_piix
  nvme usb-storage uas xhci_pci ehci_pci ohci_pci uhci_hcd sd_mod"
libs="libc6 libssl3"

mkdir -p "$cache" "$output"
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "build-netboot.sh: apt-cache knows no linux-image-amd64 (run apt-get update)" >&2; exit 1; }
fetch() { # $1 = package; prints the .deb path in the cache, downloading it once
  local pkg=$1 ver file
  ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')
  file=$(ls "$cache/${pkg}_"*.deb 2>/dev/null | while read -r f; do
    [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && echo "$f"; done | head -n1)
  if [ -z "$file" ]; then
    (cd "$cache" && apt-get download -q "$pkg" >&2 2>/dev/null || apt-get download -q "$pkg" >&2)
    file=$(ls -t "$cache/${pkg}_"*.deb | head -n1)
  fi
  echo "$file"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$work/k" "$work/x" "$root"/{bin,sbin,usr/bin,etc,lib/modules,lib64,lib/x86_64-linux-gnu,root,dev,proc,sys,tmp,run}
: > "$work/manifest"
for pkg in "$kpkg" busybox-static $libs; do
  deb=$(fetch "$pkg")
  echo "$pkg $(dpkg-deb -f "$deb" Version)" >> "$work/manifest"
  case $pkg in
    linux-image-*) dpkg-deb -x "$deb" "$work/k" ;;
    *) dpkg-deb -x "$deb" "$work/x" ;;
  esac
done

# busybox, with a link per applet.
cp "$work/x/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

# Kernel, and the module closure: busybox depmod writes modules.dep for the whole tree, then each wanted module
# brings the modules it depends on.
kver=$(ls "$work/k/lib/modules")
cp "$work/k/boot/vmlinuz-$kver" "$output/vmlinuz"
"$root/bin/busybox" depmod -b "$work/k" "$kver"
kdir=$work/k/lib/modules/$kver
want=""
for m in $modules; do
  pat=$(echo "$m" | sed 's/[-_]/[-_]/g')
  f=$(grep -E "(^|/)$pat\.ko:" "$kdir/modules.dep" | head -n1 | cut -d: -f1 || true)
  [ -n "$f" ] || { echo "build-netboot.sh: kernel $kver has no module $m (built in, or renamed)" >&2; continue; }
  want="$want $f $(grep -E "^$f:" "$kdir/modules.dep" | cut -d: -f2)"
done
mkdir -p "$root/lib/modules/$kver"
for f in $(echo "$want" | tr ' ' '\n' | sort -u); do
  mkdir -p "$root/lib/modules/$kver/$(dirname "$f")"
  cp "$kdir/$f" "$root/lib/modules/$kver/$f"
done
cp "$kdir"/modules.order "$kdir"/modules.builtin "$root/lib/modules/$kver/" 2>/dev/null || true
"$root/bin/busybox" depmod -b "$root" "$kver"
echo $modules | tr ' ' '\n' > "$root/lib/modules/load.list"

# glibc (the binary's only link-time dependency), and OpenSSL, which .NET loads at run time for SHA-1.
multi=lib/x86_64-linux-gnu
for lib in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libresolv.so.2 \
           libnss_dns.so.2 libnss_files.so.2 libssl.so.3 libcrypto.so.3; do
  src=$(find "$work/x" -name "$lib" | head -n1)
  [ -n "$src" ] || { echo "build-netboot.sh: $lib not found in $libs" >&2; exit 1; }
  cp -L "$src" "$root/$multi/$lib"
done
ln -sf "/$multi/ld-linux-x86-64.so.2" "$root/lib64/ld-linux-x86-64.so.2"
cp "$binary" "$root/usr/bin/blockswarm"
chmod 755 "$root/usr/bin/blockswarm"

# init, the DHCP event script, and what glibc and .NET look for.
install -m 755 "$here/init" "$root/init"
install -m 755 "$here/udhcpc.script" "$root/etc/udhcpc.script"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' > "$root/etc/hosts"
cp "$work/manifest" "$root/etc/blockswarm-netboot.manifest"
echo "blockswarm $("$binary" --version 2>/dev/null | head -n1)" >> "$work/manifest"
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | zstd -q -12 -T0 > "$output/initrd.img"

# Boot entries for sites that do not let serve write the iPXE script.
case $server_key in
  ""|sha256:*) ;;
  *) echo "build-netboot.sh: --server-key '$server_key' is not a fingerprint (sha256:..., as serve prints it)" >&2; exit 2 ;;
esac
args="blockswarm.server=$server${server_key:+ blockswarm.server_key=$server_key} blockswarm.target=auto blockswarm.after=poweroff console=tty0 console=ttyS0,115200n8"
cat > "$output/boot.ipxe" <<IPXE
#!ipxe
# Static iPXE script: serve --netboot writes one per request naming itself; use this one from another HTTP server.
:load
kernel $server/netboot/vmlinuz initrd=initrd.img blockswarm.id=\${net0/mac:hexhyp} $args || goto failed
initrd --name initrd.img $server/netboot/initrd.img || goto failed
boot || goto failed
:failed
echo BlockSwarm: could not load the boot files from $server/netboot/ ; retrying in 10 s
sleep 10
goto load
IPXE
mkdir -p "$output/pxelinux.cfg"
cat > "$output/pxelinux.cfg/default" <<PXE
# PXELINUX (pxelinux.0 loads over TFTP from the same directory; lpxelinux.0 can also load http:// paths).
DEFAULT blockswarm
PROMPT 0
TIMEOUT 30
LABEL blockswarm
  MENU LABEL BlockSwarm: deploy this machine from $server
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND $args
PXE
cat > "$output/grub.cfg" <<GRUB
# GRUB-EFI network boot (grubnetx64.efi.signed from Debian's grub-efi-amd64-signed loads it over TFTP).
set timeout=3
menuentry "BlockSwarm: deploy this machine from $server" {
  linux vmlinuz $args
  initrd initrd.img
}
GRUB
cat > "$output/dnsmasq-proxy.conf" <<DNSMASQ
# dnsmasq beside the site's own DHCP server (which keeps handing out addresses): proxy-DHCP tells PXE clients
# where to boot from, TFTP serves the iPXE loaders, and iPXE then fetches serve's /netboot/boot.ipxe over HTTP.
# Replace 10.0.0.0 with the LAN's network and $server with the BlockSwarm server; run:
#   dnsmasq --conf-file=dnsmasq-proxy.conf --no-daemon
port=0
dhcp-range=10.0.0.0,proxy
enable-tftp
tftp-root=/usr/lib/ipxe
dhcp-match=set:ipxe,175
dhcp-userclass=set:ipxe,iPXE
pxe-service=tag:!ipxe,x86PC,"BlockSwarm (BIOS)",undionly.kpxe
pxe-service=tag:!ipxe,X86-64_EFI,"BlockSwarm (UEFI)",ipxe.efi
pxe-service=tag:ipxe,x86PC,"BlockSwarm",$server/netboot/boot.ipxe
pxe-service=tag:ipxe,X86-64_EFI,"BlockSwarm",$server/netboot/boot.ipxe
log-dhcp
DNSMASQ
cp "$work/manifest" "$output/MANIFEST"
echo "netboot image in $output: vmlinuz $(du -h "$output/vmlinuz" | cut -f1), initrd.img $(du -h "$output/initrd.img" | cut -f1) (kernel $kver, $(wc -w <<< "$modules") drivers)"
