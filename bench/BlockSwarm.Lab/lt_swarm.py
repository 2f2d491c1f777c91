#!/usr/bin/python3
"""python3-libtorrent swarm member for the swarm lab (Debian's /usr/bin/python3).

  lt_swarm.py seed  TORRENT SAVE_DIR IP PORT   seeds SAVE_DIR's files (no re-check); prints "seeding"
  lt_swarm.py leech TORRENT SAVE_DIR IP PORT   downloads; prints "complete" once every piece is verified
  lt_swarm.py create DATA_FILE TORRENT_OUT ANNOUNCE_URL PIECE_SIZE   a plain v1 one-file torrent

Both keep seeding until killed. Default libtorrent settings except: no DHT/LSD/UPnP, TCP only,
several connections per IP allowed (the lab's peers all have distinct IPs anyway).
"""
import os
import sys
import time

import libtorrent as lt


def create(data, out, url, piece):
    fs = lt.file_storage()
    lt.add_files(fs, data)
    t = lt.create_torrent(fs, int(piece), flags=lt.create_torrent.v1_only)
    t.add_tracker(url)
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(data)))
    with open(out, "wb") as f:
        f.write(lt.bencode(t.generate()))


def run(mode, torrent, save, ip, port):
    s = lt.session({
        "listen_interfaces": f"{ip}:{port}",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.tracker_notification,
    })
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save
    if mode == "seed":
        atp.flags |= lt.torrent_flags.seed_mode
    h = s.add_torrent(atp)
    said = False
    while True:
        st = h.status()
        if not said and st.is_seeding:
            print("seeding" if mode == "seed" else "complete", flush=True)
            said = True
        for a in s.pop_alerts():
            print("alert:", a.message(), flush=True)
        time.sleep(0.05)


if __name__ == "__main__":
    if sys.argv[1] == "create":
        create(*sys.argv[2:6])
    else:
        run(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
