#!/usr/bin/env bash
# Builds blockswarm_VERSION_amd64.deb from the NativeAOT publish, with dpkg-deb alone (no debhelper, no source
# package, nothing downloaded): the binary, blockswarm-serve.service (+ the blockswarm-serve@ template) with
# /etc/blockswarm/serve.conf, a manual page per command and bash completion, both generated from --help.
#
#   packaging/build-deb.sh [--binary PATH] [--version V] [--output DIR]
#
#   --binary   the published binary (default artifacts/cli-aot-Release/blockswarm: `dotnet build BlockSwarm.slnx -c Release`)
#   --version  the package version (default: <Version> of Directory.Build.props, Debian revision 1: 1.0.0-1)
#   --output   where the .deb goes (default artifacts/deb); its path is the last line printed
#
# Needs dpkg-dev (dpkg-deb, dpkg-shlibdeps) and help2man (scripts/install-deps.sh installs both). Files under
# packaging/debian/ are the one source of the unit, the config file, the maintainer scripts and the copyright file.
#
# lintian (lintian --fail-on error,warning --pedantic) passes with these overrides (usr/share/lintian/overrides):
#   - embedded-library zlib (error): .NET's System.IO.Compression native code (zlib-ng) is linked into every
#     NativeAOT binary; the SDK has no switch to use the system's libz for it. BlockSwarm's own gzip decoding
#     (Clonezilla images) calls the system's libz.so.1, which the package recommends.
#   - initial-upload-closes-no-bugs (warning): the package is built by the project, not uploaded to Debian: there is
#     no ITP bug to close.
#   - spelling-error-in-binary (info): the words are in the .NET libraries' and System.CommandLine's translated
#     messages compiled into the binary, not in BlockSwarm's own text.
#   - hardening-no-fortify-functions (info): the binary is NativeAOT output (C# compiled ahead of time, linked by
#     clang against glibc); it has no C code of its own for _FORTIFY_SOURCE to harden.
#   - package-supports-alternative-init-but-no-init.d-script (info): the server is meant to run under systemd's
#     sandbox (DynamicUser, read-only system, read-only device access); without systemd run `blockswarm serve` directly.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
binary=$repo/artifacts/cli-aot-Release/blockswarm
version=
output=$repo/artifacts/deb
while [ $# -gt 0 ]; do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
upstream=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$repo/Directory.Build.props" | head -1)
[ -n "$upstream" ] || { echo "build-deb.sh: no <Version> in Directory.Build.props" >&2; exit 1; }
version=${version:-$upstream-1}
[ -x "$binary" ] || { echo "build-deb.sh: $binary is missing: dotnet build BlockSwarm.slnx -c Release publishes it" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps help2man gzip objcopy; do
  command -v "$tool" >/dev/null || { echo "build-deb.sh: $tool is missing (bash scripts/install-deps.sh)" >&2; exit 1; }
done
binary=$(readlink -f "$binary")
src=$repo/packaging/debian
pkg=blockswarm
arch=amd64
# Reproducible: every timestamp (files, man pages, changelog) is the last commit's, unless the caller sets it.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
export LC_ALL=C.UTF-8 TZ=UTC

work=$(mktemp -d "${TMPDIR:-/tmp}/blockswarm-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
doc=$root/usr/share/doc/$pkg
install -d -m 755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/$pkg" "$root/usr/lib/systemd/system" \
  "$root/etc/$pkg" "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" "$doc"

# The program, and the helper that turns serve.conf into serve's command line.
install -m 755 "$binary" "$root/usr/bin/blockswarm"
# The publish is stripped (symbols are in blockswarm.dbg); the linker's .comment section is dead weight too.
objcopy --remove-section=.comment "$root/usr/bin/blockswarm"
install -m 755 "$src/serve-from-env" "$root/usr/lib/$pkg/serve-from-env"
# Started through a link named `ezio` the binary is the EZIO-compatible daemon. Not /usr/sbin/ezio: that path is
# Clonezilla's ezio package's (a file conflict, and a surprise on a Clonezilla server); the link lives here and the
# operator puts it in place of EZIO where wanted: ln -s /usr/lib/blockswarm/ezio /usr/local/sbin/ezio
ln -s ../../bin/blockswarm "$root/usr/lib/$pkg/ezio"

# The unit, and its template made from it (one source of truth): NAME.conf instead of serve.conf.
install -m 644 "$src/blockswarm-serve.service" "$root/usr/lib/systemd/system/blockswarm-serve.service"
sed -e 's|^Description=BlockSwarm deployment server|Description=BlockSwarm deployment server %i|' \
    -e 's|^EnvironmentFile=/etc/blockswarm/serve.conf|EnvironmentFile=/etc/blockswarm/%i.conf\nEnvironment=BLOCKSWARM_CONF=/etc/blockswarm/%i.conf|' \
    -e 's|^# BlockSwarm image server: .*|# BlockSwarm image server, one per config file: blockswarm-serve@NAME reads /etc/blockswarm/NAME.conf.|' \
    "$src/blockswarm-serve.service" > "$root/usr/lib/systemd/system/blockswarm-serve@.service"
grep -q '%i.conf' "$root/usr/lib/systemd/system/blockswarm-serve@.service" || { echo "build-deb.sh: template not made" >&2; exit 1; }
install -m 644 "$src/serve.conf" "$root/etc/$pkg/serve.conf"
echo "/etc/$pkg/serve.conf" > "$root/DEBIAN/conffiles"

# Manual pages, one per command, from --help through help2man. help2man reads GNU-style help ("Usage: ..." first,
# then a description paragraph, then "Options:"); a small wrapper reshapes System.CommandLine's layout into it.
commands=$("$binary" --help | awk '/^Commands:/ { c = 1; next } /^[A-Za-z]+:/ { c = 0 } c && /^  [a-z]/ { print $1 }')
[ -n "$commands" ] || { echo "build-deb.sh: no commands in blockswarm --help" >&2; exit 1; }
manhelp=$work/manhelp
mkdir -p "$manhelp"
date=$(date -u -d "@$SOURCE_DATE_EPOCH" '+%B %Y')
include=$work/man-include
see_also=$(for c in $commands; do printf '.BR blockswarm\\-%s (1),\n' "$c"; done | sed '$ s/,$//')
make_page() {  # NAME (blockswarm or blockswarm-CMD) and the arguments before --help
  local name=$1; shift
  cat > "$manhelp/$name" <<WRAP
#!/bin/sh
# help2man runs this with --help: System.CommandLine's help reshaped as GNU help.
"$binary" $* --help | awk '
  /^Description:/ { mode = "d"; next }
  /^Usage:/ { mode = "u"; next }
  mode == "u" && /^  / { sub(/^ +/, ""); print "Usage: " \$0; print ""; printf "%s", desc; mode = ""; next }
  mode == "d" && /^  / { sub(/^ +/, ""); desc = desc \$0 "\n\n"; next }
  mode == "d" || mode == "u" { next }
  { print }'
WRAP
  chmod 755 "$manhelp/$name"
  {
    printf '[ENVIRONMENT]\n.TP\n.B BLOCKSWARM_LOG_LEVEL\nDefault of \\fB\\-\\-log\\-level\\fR.\n.TP\n.B BLOCKSWARM_LOG_FORMAT\nDefault of \\fB\\-\\-log\\-format\\fR.\n'
    case $name in blockswarm-serve|blockswarm-create|blockswarm-inspect|blockswarm)
      printf '.TP\n.B BLOCKSWARM_CACHE\nWhere the piece hashes of Clonezilla image directories are kept (default ~/.cache/blockswarm).\n' ;;
    esac
    printf '[EXIT STATUS]\n0 ok, 1 error (message on stderr), 2 usage, 3 verification failed, 4 target refused, 5 server unreachable, 130 interrupted.\n'
    if [ "$name" = blockswarm-serve ]; then
      printf '[FILES]\n.TP\n.I /etc/blockswarm/serve.conf\nSettings of \\fBblockswarm\\-serve.service\\fR (and \\fI/etc/blockswarm/NAME.conf\\fR of \\fBblockswarm\\-serve@NAME.service\\fR).\n'
    fi
    if [ "$name" = blockswarm-ezio ]; then
      printf '[NOTES]\nStarted through a link named \\fBezio\\fR (\\fI/usr/lib/blockswarm/ezio\\fR; for example \\fBln \\-s /usr/lib/blockswarm/ezio /usr/local/sbin/ezio\\fR) the program is this daemon, with the same options at the top level, in place of Clonezilla'"'"'s EZIO.\n'
    fi
    printf '[SEE ALSO]\n'
    if [ "$name" = blockswarm ]; then printf '%s\n' "$see_also"; else printf '.BR blockswarm (1)\n'; fi
    printf '.PP\nThe operator guide: \\fI/usr/share/doc/blockswarm/operator\\-guide.md.gz\\fR.\n'
  } > "$include.$name"
  local summary
  if [ "$name" = blockswarm ]; then summary="deploy one disk image to many machines at once over BitTorrent"
  else summary=$("$binary" "$@" --help | awk '/^Description:/ { getline; sub(/^ +/, ""); print; exit }' | sed 's/[:;(].*//; s/ *$//' | sed 's/^\(.\)/\L\1/')
  fi
  help2man --no-info --no-discard-stderr --section=1 --source="BlockSwarm $upstream" --version-string="$upstream" \
    --name="$summary" --include="$include.$name" --output="$root/usr/share/man/man1/$name.1" "$manhelp/$name"
  # help2man dates the page with today; the commit's date keeps builds reproducible.
  sed -i "s/^\(\.TH [^\"]*\"1\" \)\"[^\"]*\"/\1\"$date\"/" "$root/usr/share/man/man1/$name.1"
}
make_page blockswarm
for c in $commands; do make_page "blockswarm-$c" "$c"; done
gzip -9n "$root"/usr/share/man/man1/*.1

bash "$repo/packaging/gen-bash-completion.sh" "$binary" > "$root/usr/share/bash-completion/completions/blockswarm"
bash -n "$root/usr/share/bash-completion/completions/blockswarm"

# Documentation: copyright, the changelog (an entry for this version added when it is not the latest), the guides.
install -m 644 "$src/copyright" "$doc/copyright"
{
  if ! head -1 "$src/changelog" | grep -qF "($version)"; then
    printf '%s (%s) unstable; urgency=medium\n\n  * Build of %s from commit %s.\n\n -- %s  %s\n\n' "$pkg" "$version" "$version" \
      "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
      "$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$src/changelog" | head -1)" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
  fi
  cat "$src/changelog"
} | gzip -9n > "$doc/changelog.Debian.gz"
gzip -9n < "$repo/README.md" > "$doc/README.md.gz"
gzip -9n < "$repo/docs/operator-guide.md" > "$doc/operator-guide.md.gz"

install -d -m 755 "$root/usr/share/lintian/overrides"
cat > "$root/usr/share/lintian/overrides/$pkg" <<'OVR'
# Why each override: packaging/build-deb.sh, at the top.
blockswarm: embedded-library zlib [usr/bin/blockswarm]
blockswarm: initial-upload-closes-no-bugs [usr/share/doc/blockswarm/changelog.Debian.gz:1]
blockswarm: spelling-error-in-binary * [usr/bin/blockswarm]
blockswarm: hardening-no-fortify-functions [usr/bin/blockswarm]
blockswarm: package-supports-alternative-init-but-no-init.d-script [usr/lib/systemd/system/blockswarm-serve.service]
OVR

# Control: libc from the binary's own links (dpkg-shlibdeps); the libraries it opens at run time from the code's
# imports: OpenSSL (SHA-1 of every piece, through .NET's System.Security.Cryptography) is needed by every command;
# zlib, zstd, xz and bzip2 decode Clonezilla image directories only (gz, zst, xz/lzma, bz2; lz4 and lzo are built in).
mkdir -p "$work/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: %s\n' "$pkg" "$pkg" "$arch" > "$work/debian/control"
libc=$(cd "$work" && dpkg-shlibdeps -O -e"$root/usr/bin/blockswarm" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$libc" ] || { echo "build-deb.sh: dpkg-shlibdeps found no dependencies of the binary" >&2; exit 1; }
rm -rf "$work/debian"
installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CTL
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: BlockSwarm maintainers <maintainers@users.noreply.r-seed-b1e6f6f4.example>
Installed-Size: $installed_size
Depends: $libc, libssl3 | libssl3t64
Recommends: libbz2-1.0, liblzma5, libzstd1, zlib1g
Suggests: e2fsprogs
Section: admin
Priority: optional
Description: deploy one disk image to many machines at once over BitTorrent
 BlockSwarm writes a disk image straight to the block devices of a room of
 machines, moving only the blocks the file systems use. Machines fetch pieces
 from the server and from each other, so 30 machines take little longer than 3.
 .
 One native binary holds the server (origin seeder, tracker, job API, live
 dashboard, Prometheus metrics), the deploy client with its target safety
 checks, plain seed/fetch, a tracker and an EZIO-compatible daemon for
 Clonezilla's BitTorrent mode. Clonezilla image directories are served as
 they are. blockswarm-serve.service runs the server from
 /etc/blockswarm/serve.conf.
CTL
install -m 755 "$src/postinst" "$src/prerm" "$src/postrm" "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch --no-dereference --date="@$SOURCE_DATE_EPOCH"

mkdir -p "$output"
deb=$output/${pkg}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
