#!/usr/bin/env bash
# Regenerates the fuzzing seed corpus (small files, committed). Needs mkfs.ext4, partclone.extfs
# and Debian's python3-libtorrent (/usr/bin/python3). Run as root (partclone reads the image).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# bencode: one snippet per construct, plus edge values the decoder must get right.
b="$here/bencode"
mkdir -p "$b"
printf 'i0e' >"$b/int-zero"
printf 'i-9223372036854775808e' >"$b/int-min"
printf 'i9223372036854775807e' >"$b/int-max"
printf '0:' >"$b/string-empty"
printf '5:hello' >"$b/string"
printf 'le' >"$b/list-empty"
printf 'li1ei2e3:abce' >"$b/list"
printf 'de' >"$b/dict-empty"
printf 'd1:ai1e1:bl1:xi-3eed1:cdeee' >"$b/dict-nested"
printf 'd8:announce21:http://t.example/ann4:infod6:lengthi5e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee' >"$b/torrent-like"

# A small ext4 filesystem with a few files, for partclone's torrent.info and block-image torrents.
truncate -s 8M "$tmp/fs.img"
mkdir -p "$tmp/files"
head -c 300000 /dev/urandom >"$tmp/files/a.bin"
head -c 70000 /dev/urandom >"$tmp/files/b.bin"
echo hello >"$tmp/files/c.txt"
mkfs.ext4 -F -q -b 4096 -d "$tmp/files" "$tmp/fs.img"
partclone.extfs -c -t -s "$tmp/fs.img" -O "$tmp/pc" -L "$tmp/pc.log" >/dev/null 2>&1
mkdir -p "$here/partclone"
cp "$tmp/pc/torrent.info" "$here/partclone/ext4-8M.torrent.info"
# The same map without sha1 lines (BlockSwarm accepts torrent.info with no hashes).
grep -v '^sha1:' "$tmp/pc/torrent.info" >"$here/partclone/ext4-8M-nohash.torrent.info"

# torrent: Clonezilla's conversion of that torrent.info (a block image, 16 MiB pieces), and
# libtorrent-made torrents of small files: single-file, multi-file, trackers, private.
t="$here/torrent"
mkdir -p "$t"
/usr/bin/python3 "$repo/tests/scripts/clonezilla_convert.py" "$tmp/pc/torrent.info" sda1 "$t/clonezilla-ext4-8M.torrent" >/dev/null
/usr/bin/python3 - "$tmp" "$t" <<'PY'
import os, sys
import libtorrent as lt
tmp, out = sys.argv[1], sys.argv[2]

def make(name, files, piece, trackers=(), private=False, comment=None, single=False):
    fs = lt.file_storage()
    root = os.path.join(tmp, name)
    os.makedirs(root, exist_ok=True)
    for rel, size in files:
        p = os.path.join(root, rel)
        with open(p, "wb") as f:
            f.write(os.urandom(size))
    if single:
        lt.add_files(fs, os.path.join(root, files[0][0]))
        base = root
    else:
        lt.add_files(fs, root)
        base = tmp
    t = lt.create_torrent(fs, piece, flags=lt.create_torrent.v1_only)
    for tier, url in enumerate(trackers):
        t.add_tracker(url, tier)
    t.set_priv(private)
    if comment:
        t.set_comment(comment)
    t.set_creator("seed")
    lt.set_piece_hashes(t, base)
    e = t.generate()
    e.pop(b"creation date", None)
    with open(os.path.join(out, name + ".torrent"), "wb") as f:
        f.write(lt.bencode(e))

# Block-image layout: files named by 32-digit hex device offsets.
make("blockimage", [("%032x" % 0, 20000), ("%032x" % 65536, 40000), ("%032x" % 1048576, 4096)], 16384,
     trackers=["http://127.0.0.1:6969/announce"])
make("single", [("disk.img", 50000)], 16384, single=True, comment="one file")
make("multi", [("a", 1000), ("b", 33000)], 32768,
     trackers=["http://a.example/announce", "udp://b.example:80/announce"], private=True)
PY
# bs_zstd: the header (piece, begin, decoded length; big-endian) and one zstd frame of a run, as a receiver with
# 8 pieces of 256 KiB sees it; the fuzz target decodes into exactly the announced length.
z="$here/zstd-run"
mkdir -p "$z"
seq 1 20000 >"$tmp/run.txt" && head -c 65536 "$tmp/run.txt" >"$tmp/run64k"
{ printf '\x00\x00\x00\x02\x00\x01\x00\x00\x00\x01\x00\x00'; zstd -q -3 -c "$tmp/run64k"; } >"$z/run-64k"
head -c 16384 /dev/zero >"$tmp/zero16k"
{ printf '\x00\x00\x00\x07\x00\x03\xc0\x00\x00\x00\x40\x00'; zstd -q -19 -c "$tmp/zero16k"; } >"$z/zeros-last-block"
# bs_import: piece indexes (4 bytes each, big-endian) as a peer of a 1000-piece torrent takes them.
i="$here/import-message"
mkdir -p "$i"
printf '\x00\x00\x00\x07' >"$i/one-piece"
printf '\x00\x00\x00\x00\x00\x00\x03\xe7\x00\x00\x01\x2c' >"$i/first-last-middle"
# secure-channel: a dialer's half of a real secret handshake (and records) against the target's fixed-nonce listener;
# made by code, since it needs the handshake's keys.
dotnet build "$repo/fuzz/BlockSwarm.Fuzz" -c Release -nologo -v:q >/dev/null
dotnet "$repo/fuzz/BlockSwarm.Fuzz/bin/Release/net10.0/blockswarm-fuzz.dll" secure-channel --make-seeds "$here/secure-channel"
# tracker-announce: announce queries as a tracker with a swarm secret gets them (the fuzz target's secret and clock,
# 2027-01-15T08:00:00Z): two with a good proof (AnnounceProof: HKDF-SHA-256 of the secret, HMAC-SHA-256 of the
# fixed message), one as a standard client sends it.
a="$here/tracker-announce"
mkdir -p "$a"
python3 - "$a" <<'PY'
import hashlib, hmac, struct, sys, urllib.parse
out = sys.argv[1]
secret, when = b"fuzzing swarm secret, not for use", 1_800_000_000
# Not a generated secret (43 base64url characters): stretched with PBKDF2-HMAC-SHA-256 first (SwarmSecret.FromText).
stretched = hashlib.pbkdf2_hmac("sha256", secret, b"BlockSwarm swarm secret v1 passphrase", 600_000, 32)
prk = hmac.new(b"BlockSwarm swarm secret v1", stretched, hashlib.sha256).digest()        # HKDF-Extract
key = hmac.new(prk, b"BlockSwarm proof tracker announce v1\x00" + b"\x01", hashlib.sha256).digest()  # HKDF-Expand, 32 bytes
info_hash, peer_id = bytes(range(1, 21)), b"-BS0100-000000000042"
esc = lambda b: "".join("%%%02X" % x for x in b)

def announce(name, port, event, left, numwant, nonce, ip=None, proof=True):
    ev = {"": 0, "completed": 1, "started": 2, "stopped": 3}[event]
    ipb = bytes(int(x) for x in ip.split(".")) if ip else b""
    msg = (info_hash + peer_id + struct.pack(">HBqqqiBq", port, ev, left, 0, 0, numwant, 1, when) + nonce
           + bytes([len(ipb)]) + ipb)
    q = (f"?info_hash={esc(info_hash)}&peer_id={esc(peer_id)}&port={port}&uploaded=0&downloaded=0&left={left}"
         f"&compact=1&numwant={numwant}&key=0badcafe" + (f"&event={event}" if event else "") + (f"&ip={ip}" if ip else ""))
    if proof:
        q += f"&bs_time={when}&bs_nonce={nonce.hex()}&bs_proof={hmac.new(key, msg, hashlib.sha256).hexdigest()}"
    open(f"{out}/{name}", "w").write(q)

announce("started-proof", 6881, "started", 1048576, 50, bytes(range(8)))
announce("stopped-ip-proof", 51413, "stopped", 0, 0, bytes(range(8, 16)), ip="10.0.0.7")
announce("standard-client", 6881, "started", 1048576, 50, bytes(8), proof=False)
PY
# signed-job: a /api/job answer as deploy checks it: the BlockSwarm-Key header (base64 SubjectPublicKeyInfo), the
# BlockSwarm-Signature header (ECDSA P-256/SHA-256 of "BlockSwarm job v1\n" + the body, r||s in base64url), the body.
j="$here/signed-job"
mkdir -p "$j"
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/job-key.pem"
key=$(openssl ec -in "$tmp/job-key.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
printf '%s' '{"jobId":"0123456789ab","name":"sda1","infoHash":"0123456789abcdef0123456789abcdef01234567","torrentUrl":"/job.torrent","announceUrl":"/announce","requiredTargetSize":50331648,"sourceSize":50331648,"totalBytes":9437184,"pieceLength":65536,"pieceCount":144,"originPort":6881,"policy":{"mode":"until-all-done","expected":0,"ratio":1,"idleSeconds":120},"compressionLevel":3,"issuedAt":"2026-12-07T17:00:00+00:00","torrentSha256":"f2ecf0cb17c5bbc058a7e81e5286727657b6ff1aa31534f7a8cfb316076604fa"}' >"$tmp/job.json"
sign() { # $1 = body file -> base64url r||s
  { printf 'BlockSwarm job v1\n'; cat "$1"; } | openssl dgst -sha256 -sign "$tmp/job-key.pem" >"$tmp/job.sig"
  for x in $(openssl asn1parse -inform DER -in "$tmp/job.sig" | awk -F: '/INTEGER/ {print $NF}'); do printf '%064s' "$x" | tr ' ' 0; done \
    | xxd -r -p | base64 -w0 | tr '+/' '-_' | tr -d '='
}
{ printf '%s\necdsa-p256-sha256 %s\n' "$key" "$(sign "$tmp/job.json")"; cat "$tmp/job.json"; } >"$j/signed"
: >"$tmp/empty"
printf '%s\necdsa-p256-sha256 %s\n' "$key" "$(sign "$tmp/empty")" >"$j/signed-empty-body"
{ printf '\n\n'; cat "$tmp/job.json"; } >"$j/unsigned"
ls -l "$b" "$here/partclone" "$t" "$z" "$a" "$j" "$here/secure-channel"
