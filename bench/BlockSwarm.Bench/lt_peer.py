#!/usr/bin/python3
"""libtorrent reference peer for the transfer benchmark.

  lt_peer.py seed  TORRENT SAVE_DIR LISTEN_IP:PORT
  lt_peer.py fetch TORRENT SAVE_DIR LISTEN_IP:PORT PEER_IP:PORT [PEER_IP:PORT ...]

Settings are tuned for a fair loopback run: no DHT/LSD/UPnP/NAT-PMP, TCP only, no rate
limits, large send buffers. `fetch` exits 0 once every piece is verified and the files are
fsynced; `seed` runs until SIGTERM.
"""
import os
import signal
import sys
import time

import libtorrent as lt


def settings(listen):
    ip, port = listen.rsplit(":", 1)
    return {
        "listen_interfaces": f"{ip}:{port}",
        "outgoing_interfaces": ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "upload_rate_limit": 0,
        "download_rate_limit": 0,
        "send_buffer_watermark": 64 * 1024 * 1024,
        "send_buffer_low_watermark": 16 * 1024 * 1024,
        "send_buffer_watermark_factor": 150,
        "max_queued_disk_bytes": 64 * 1024 * 1024,
        "send_socket_buffer_size": 4 * 1024 * 1024,
        "recv_socket_buffer_size": 4 * 1024 * 1024,
        "max_out_request_queue": 4096,
        "max_allowed_in_request_queue": 4096,
        "request_queue_time": 2,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification,
    }


def main(argv):
    mode, torrent, save, listen = argv[1:5]
    peers = argv[5:]
    ses = lt.session(settings(listen))
    info = lt.torrent_info(torrent)
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = save
    if mode == "seed":
        params.flags |= lt.torrent_flags.seed_mode
    handle = ses.add_torrent(params)
    if mode == "seed":
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        while not stop:
            time.sleep(0.2)
        return 0
    for p in peers:
        ip, port = p.rsplit(":", 1)
        handle.connect_peer((ip, int(port)))
    deadline = time.time() + 600
    while time.time() < deadline:
        st = handle.status()
        if st.is_seeding:
            break
        if st.errc.value() != 0:
            print(f"error: {st.errc.message()}", file=sys.stderr)
            return 1
        time.sleep(0.02)
    else:
        print("timed out", file=sys.stderr)
        return 1
    # Let libtorrent close its files (flushes its buffers), then put them on stable storage.
    ses.remove_torrent(handle)
    time.sleep(0.05)
    for i in range(info.num_files()):
        path = os.path.join(save, info.files().file_path(i))
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
