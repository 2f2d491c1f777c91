#!/usr/bin/python3
"""python3-libtorrent helper for interop tests (run with Debian's /usr/bin/python3).

  lt_peer.py create DATA_FILE TORRENT_OUT ANNOUNCE_URL PIECE_SIZE
  lt_peer.py seed TORRENT SAVE_DIR LISTEN_IP PORT SECONDS
      seeds until SECONDS pass or stdin closes; prints 'seeding' once ready.
"""
import os
import select
import sys
import time

import libtorrent as lt


def create(data, out, url, piece):
    fs = lt.file_storage()
    lt.add_files(fs, data)
    # v1 only: aria2c and BlockSwarm speak BitTorrent v1; hybrid torrents add v2 announces.
    t = lt.create_torrent(fs, int(piece), flags=lt.create_torrent.v1_only)
    t.add_tracker(url)
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(data)))
    with open(out, "wb") as f:
        f.write(lt.bencode(t.generate()))


def seed(torrent, save, ip, port, seconds):
    s = lt.session({
        "listen_interfaces": f"{ip}:{port}",
        # Announce the seeder's own loopback alias; our tracker honours ip= from loopback.
        "announce_ip": ip,
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.tracker_notification,
    })
    h = s.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save})
    end = time.time() + float(seconds)
    said = False
    while time.time() < end:
        st = h.status()
        if not said and st.is_seeding:
            print("seeding", flush=True)
            said = True
        for a in s.pop_alerts():
            print("alert:", a.message(), flush=True)
        r, _, _ = select.select([sys.stdin], [], [], 0.2)
        if r and not sys.stdin.read(1):
            break
    s.pause()


if __name__ == "__main__":
    if sys.argv[1] == "create":
        create(*sys.argv[2:6])
    else:
        seed(*sys.argv[2:7])
