#!/usr/bin/python3
# Interop-test peer (seed, leech --linger, create); the tracker tests use lt_peer.py.
"""python3-libtorrent as an interop peer for BlockSwarm's tests (Debian's python: /usr/bin/python3).

  lt_peer.py seed  TORRENT SAVE_DIR LISTEN_IP:PORT [--connect IP:PORT]...
      Checks SAVE_DIR's files, then seeds until killed.
  lt_peer.py leech TORRENT SAVE_DIR LISTEN_IP:PORT [--connect IP:PORT]... [--timeout S] [--linger S]
      Downloads into SAVE_DIR; prints "complete" once every piece is verified (libtorrent hashes each piece),
      seeds for --linger seconds (default 0), then exits 0; exits 3 on timeout.
  lt_peer.py create SOURCE_DIR OUT_TORRENT PIECE_SIZE
      Writes a plain BitTorrent v1 multi-file torrent of SOURCE_DIR (its nested files in order).

Progress and libtorrent's alerts go to stdout, so a failing test can show what libtorrent saw.
"""
import sys
import time

import libtorrent as lt


def log(*args):
    print(f"[lt {time.monotonic():.2f}]", *args, flush=True)


def endpoint(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def make_session(listen):
    host, _ = endpoint(listen)
    settings = {
        "listen_interfaces": listen,
        "outgoing_interfaces": host,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # BlockSwarm speaks TCP only, in the clear: no uTP attempt or encrypted handshake first.
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "allow_multiple_connections_per_ip": True,
        "user_agent": "lt_peer.py",
        "alert_mask": int(lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification
                          | lt.alert.category_t.status_notification | lt.alert.category_t.connect_notification),
    }
    return lt.session(settings)


def drain(ses):
    for a in ses.pop_alerts():
        log(type(a).__name__, a.message())


def run(mode, torrent, save_dir, listen, connects, timeout, linger):
    ses = make_session(listen)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save_dir
    h = ses.add_torrent(atp)
    deadline = time.monotonic() + timeout
    connected = False
    done = False
    last = None
    while time.monotonic() < deadline:
        drain(ses)
        s = h.status()
        ready = s.state not in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)
        if ready and not connected:
            for c in connects:
                log("connect_peer", c)
                h.connect_peer(endpoint(c))
            connected = True
            if mode == "seed":
                log("seeding" if s.is_seeding else f"NOT a seed: {s.num_pieces}/{atp.ti.num_pieces()} pieces")
        line = f"state {s.state} pieces {s.num_pieces} peers {s.num_peers} down {s.total_payload_download} up {s.total_payload_upload}"
        if line != last:
            log(line)
            last = line
        if mode == "leech" and s.is_seeding and not done:
            drain(ses)
            log("complete")
            done = True
            deadline = time.monotonic() + linger
        if done and time.monotonic() >= deadline:
            return 0
        time.sleep(0.05)
    drain(ses)
    log("timeout")
    return 3


def create(source, out, piece_size):
    fs = lt.file_storage()
    lt.add_files(fs, source)
    t = lt.create_torrent(fs, int(piece_size), flags=lt.create_torrent.v1_only)
    t.set_creator("lt_peer.py")
    import os
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(source)))
    with open(out, "wb") as f:
        f.write(lt.bencode(t.generate()))
    print(lt.torrent_info(out).info_hash())
    return 0


def main(argv):
    mode = argv[1]
    if mode == "create":
        return create(argv[2], argv[3], argv[4])
    torrent, save_dir, listen = argv[2], argv[3], argv[4]
    connects, timeout, linger = [], 3600.0, 0.0
    rest = argv[5:]
    while rest:
        opt, value, rest = rest[0], rest[1], rest[2:]
        if opt == "--connect":
            connects.append(value)
        elif opt == "--timeout":
            timeout = float(value)
        elif opt == "--linger":
            linger = float(value)
        else:
            raise SystemExit(f"unknown option {opt}")
    return run(mode, torrent, save_dir, listen, connects, timeout, linger)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
