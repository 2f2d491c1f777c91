#!/usr/bin/python3
"""Clonezilla's torrent.info -> .torrent conversion, for compatibility tests.

Mirrors the logic of Clonezilla/EZIO's converter (partclone_create_torrent.py): read the
offset/length/sha1 lines of partclone's torrent.info, add one file "<partition>/<offset>"
per extent, 16 MiB pieces, set each piece hash, v1 only. Written for these tests; run it
with Debian's /usr/bin/python3 (python3-libtorrent).

usage: clonezilla_convert.py TORRENT_INFO PARTITION_NAME OUTPUT
prints: the info-hash (hex) and the hex of the bencoded info dictionary
"""
import hashlib
import re
import sys

import libtorrent as lt

info_path, name, output = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(info_path).read()
hashes = re.findall(r'^sha1: (.*)$', data, re.M)
offsets = re.findall(r'^offset: (.*)$', data, re.M)
lengths = re.findall(r'^length: (.*)$', data, re.M)

fs = lt.file_storage()
fs.set_piece_length(16 * 1024 * 1024)
for o, l in zip(offsets, lengths):
    fs.add_file(name + "/" + o, int(l, 16))

t = lt.create_torrent(fs, 16 * 1024 * 1024, flags=lt.create_torrent.v1_only)
t.set_creator("CloneZilla")
for i, h in enumerate(hashes):
    t.set_hash(i, bytes.fromhex(h))

generated = t.generate()
with open(output, "wb") as f:
    f.write(lt.bencode(generated))
info = lt.bencode(generated[b"info"] if b"info" in generated else generated["info"])
print(hashlib.sha1(info).hexdigest())
print(info.hex())
