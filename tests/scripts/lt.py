#!/usr/bin/python3
"""python3-libtorrent as a reference peer for BlockSwarm's tests, benchmark and swarm lab.

Run it with Debian's /usr/bin/python3 (python3-libtorrent is installed there, not into a pyenv python).

  lt.py create SOURCE OUT_TORRENT --piece-size N [--tracker URL]...
      Writes a plain BitTorrent v1 torrent of a file or a directory (its nested files in order) and prints
      its info-hash.
  lt.py seed TORRENT SAVE_DIR --listen IP:PORT [--connect IP:PORT]... [--skip-check] [OPTIONS]
      Checks SAVE_DIR's files (--skip-check: trusts them, libtorrent's seed mode), prints "seeding" once it has
      every piece, then seeds until SIGTERM (exit 0) or --seconds pass. Peers given with --connect are dialled
      once the check is done.
  lt.py fetch TORRENT SAVE_DIR --listen IP:PORT [--connect IP:PORT]... [--timeout S] [--linger S|forever] [--fsync] [OPTIONS]
      (seed and fetch: --also TORRENT adds more torrents to the same session and SAVE_DIR, as one client holding
      several torrents; "seeding"/"complete" then mean all of them)
      Downloads into SAVE_DIR; prints "complete" once every piece is verified (libtorrent hashes each one);
      with --fsync, closes the files and puts them on stable storage; then seeds for --linger seconds (default
      0, "forever": until SIGTERM) and exits 0. Exits 3 on timeout (default 3600 s) or a SIGTERM before it
      completed, 1 on a torrent error.

Options of seed and fetch:
  --plain-handshake   never try an encrypted handshake first (BlockSwarm speaks plain BitTorrent only)
  --tuned             large socket and send buffers, deep request queues: a fair loopback throughput run
  --announce-ip IP    the address to announce to trackers
  --alerts LIST       libtorrent alert categories to print (default error,tracker; also peer,status,connect)
  --progress          prints the state, pieces, peers and payload counters whenever they change, and once more as
                      "final ..." when the program ends (the counters it ends with, whatever changed last)
  --redial S          dials the --connect peers again every S seconds (peers that were not listening yet, or that
                      closed the connection); default 0: once

Every line goes to stdout as "[lt SECONDS] ...", so "] seeding" and "] complete" never match an alert's text.
Always: no DHT, LSD, UPnP or NAT-PMP, TCP only, several connections per IP allowed.
"""
import argparse
import os
import signal
import sys
import time

import libtorrent as lt

ALERT_CATEGORIES = {
    "error": lt.alert.category_t.error_notification,
    "tracker": lt.alert.category_t.tracker_notification,
    "peer": lt.alert.category_t.peer_notification,
    "status": lt.alert.category_t.status_notification,
    "connect": lt.alert.category_t.connect_notification,
}

CHECKING = (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)


def log(*args):
    print(f"[lt {time.monotonic():.2f}]", *args, flush=True)


def endpoint(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def session(args):
    host, _ = endpoint(args.listen)
    mask = 0
    for name in args.alerts.split(","):
        if name:
            mask |= int(ALERT_CATEGORIES[name])
    settings = {
        "listen_interfaces": args.listen,
        "outgoing_interfaces": host,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "user_agent": "lt.py",
        "alert_mask": mask,
    }
    if args.announce_ip:
        settings["announce_ip"] = args.announce_ip
    if args.plain_handshake:
        settings["out_enc_policy"] = int(lt.enc_policy.disabled)
        settings["in_enc_policy"] = int(lt.enc_policy.enabled)
    if args.tuned:
        settings.update({
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
        })
    return lt.session(settings)


class Status:
    """The torrents of a session seen as one: seeding when all are, an error when any has one."""

    def __init__(self, statuses):
        self.all = statuses
        self.is_seeding = all(s.is_seeding for s in statuses)
        self.num_pieces = sum(s.num_pieces for s in statuses)
        self.errc = next((s.errc for s in statuses if s.errc.value() != 0), statuses[0].errc)


class Peer:
    """One or more torrents in one session, polled: alerts printed, peers dialled once checking is done."""

    def __init__(self, args, seed_mode):
        self.args = args
        self.ses = session(args)
        self.infos = [lt.torrent_info(t) for t in [args.torrent, *args.also]]
        self.info = self.infos[0]
        self.handles = []
        for info in self.infos:
            atp = lt.add_torrent_params()
            atp.ti = info
            atp.save_path = args.save_dir
            if seed_mode:
                atp.flags |= lt.torrent_flags.seed_mode
            self.handles.append(self.ses.add_torrent(atp))
        self.connected = False
        self.dialled_at = 0.0
        self.last = None

    def num_pieces(self):
        return sum(i.num_pieces() for i in self.infos)

    def poll(self):
        for a in self.ses.pop_alerts():
            log("alert", type(a).__name__, a.message())
        statuses = [h.status() for h in self.handles]
        ready = all(s.state not in CHECKING for s in statuses)
        redial = self.args.redial > 0 and time.monotonic() - self.dialled_at >= self.args.redial
        if ready and (not self.connected or redial):
            for h in self.handles:
                for c in self.args.connect:
                    if not self.connected:
                        log("connect_peer", c, h.name())
                    h.connect_peer(endpoint(c))
            self.connected = True
            self.dialled_at = time.monotonic()
        if self.args.progress:
            line = self.counters(statuses)
            if line != self.last:
                log(line)
                self.last = line
        return Status(statuses), ready

    @staticmethod
    def counters(statuses):
        return " | ".join(f"state {s.state} pieces {s.num_pieces} peers {s.num_peers} "
                          f"down {s.total_payload_download} up {s.total_payload_upload}" for s in statuses)

    def final(self):
        # After --fsync the torrents are removed from the session: their last counters were printed then.
        statuses = [h.status() for h in self.handles if h.is_valid()]
        if self.args.progress and statuses:
            log("final", self.counters(statuses))

    def fsync(self):
        # Let libtorrent close its files (flushes its buffers), then put them on stable storage.
        for h in self.handles:
            self.ses.remove_torrent(h)
        time.sleep(0.05)
        for info in self.infos:
            for i in range(info.num_files()):
                fd = os.open(os.path.join(self.args.save_dir, info.files().file_path(i)), os.O_RDONLY)
                os.fsync(fd)
                os.close(fd)


def stop_on_sigterm():
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    return stop


def seed(args):
    stop = stop_on_sigterm()
    peer = Peer(args, seed_mode=args.skip_check)
    end = time.monotonic() + args.seconds if args.seconds else None
    said = warned = False
    while not stop and (end is None or time.monotonic() < end):
        s, ready = peer.poll()
        if ready and s.is_seeding and not said:
            log("seeding")
            said = True
        elif ready and not s.is_seeding and not warned:
            log(f"NOT a seed: {s.num_pieces}/{peer.num_pieces()} pieces")
            warned = True
        time.sleep(0.05)
    peer.final()
    return 0


def fetch(args):
    stop = stop_on_sigterm()
    peer = Peer(args, seed_mode=False)
    deadline = time.monotonic() + args.timeout
    done = False
    while not stop and time.monotonic() < deadline:
        s, _ = peer.poll()
        if s.errc.value() != 0:
            log("error:", s.errc.message())
            return 1
        if s.is_seeding and not done:
            log("complete")
            done = True
            if args.fsync:
                peer.fsync()
            deadline = float("inf") if args.linger == "forever" else time.monotonic() + float(args.linger)
        if done and time.monotonic() >= deadline:
            peer.final()
            return 0
        time.sleep(0.02)
    peer.final()
    if done:
        return 0
    log("stopped before complete" if stop else "timeout")
    return 3


def create(args):
    fs = lt.file_storage()
    lt.add_files(fs, args.source)
    # v1 only: BlockSwarm, aria2c and Transmission 3 speak BitTorrent v1; hybrid torrents add v2 hashes and announces.
    t = lt.create_torrent(fs, args.piece_size, flags=lt.create_torrent.v1_only)
    for url in args.tracker:
        t.add_tracker(url)
    t.set_creator("lt.py")
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(args.source)))
    with open(args.out, "wb") as f:
        f.write(lt.bencode(t.generate()))
    print(lt.torrent_info(args.out).info_hash(), flush=True)
    return 0


def main(argv):
    parser = argparse.ArgumentParser(prog="lt.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("create")
    c.add_argument("source")
    c.add_argument("out")
    c.add_argument("--piece-size", type=int, required=True)
    c.add_argument("--tracker", action="append", default=[])
    c.set_defaults(run=create)

    for name, run in (("seed", seed), ("fetch", fetch)):
        p = sub.add_parser(name)
        p.add_argument("torrent")
        p.add_argument("save_dir")
        p.add_argument("--listen", required=True, help="IP:PORT")
        p.add_argument("--connect", action="append", default=[], help="IP:PORT of a peer to dial")
        p.add_argument("--also", action="append", default=[], help="another torrent for the same session and SAVE_DIR")
        p.add_argument("--plain-handshake", action="store_true")
        p.add_argument("--tuned", action="store_true")
        p.add_argument("--announce-ip")
        p.add_argument("--alerts", default="error,tracker")
        p.add_argument("--progress", action="store_true")
        p.add_argument("--redial", type=float, default=0, help="seconds between dials of the --connect peers (0: once)")
        p.set_defaults(run=run)
        if name == "seed":
            p.add_argument("--skip-check", action="store_true")
            p.add_argument("--seconds", type=float, default=0)
        else:
            p.add_argument("--timeout", type=float, default=3600)
            p.add_argument("--linger", default="0")
            p.add_argument("--fsync", action="store_true")

    args = parser.parse_args(argv[1:])
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
