#!/usr/bin/env python3
"""A client of EZIO's gRPC API that is not BlockSwarm's: Python stubs generated from the daemon's ezio.proto by Debian's
python3-grpc-tools, on Debian's python3-grpcio, driving a daemon the way Clonezilla's helpers drive EZIO.

  ezio_client.py gen PROTO OUTDIR             generate ezio_pb2.py and ezio_pb2_grpc.py into OUTDIR
  ezio_client.py [--stubs DIR] ADDR version
  ezio_client.py [--stubs DIR] ADDR add TORRENT SAVE_PATH [--seed] [--max-uploads N] [--max-connections N]
  ezio_client.py [--stubs DIR] ADDR status [HASH...]         JSON: {hash: {field: value}} (field names as in the .proto)
  ezio_client.py [--stubs DIR] ADDR pause|resume HASH
  ezio_client.py [--stubs DIR] ADDR wait TIMEOUT HASH...     poll until every HASH is_finished; JSON of the last status
  ezio_client.py [--stubs DIR] ADDR shutdown
  ezio_client.py [--stubs DIR] ADDR session TIMEOUT [--wait S] [--idle S]
      what Clonezilla's leecher runs after adding its torrents (EZIO's ezio_cli.py): poll every torrent; pause each one
      finished that has uploaded 3x what it holds, or has been finished over --wait s and not uploaded for over --idle s
      (or never); once every torrent is finished and paused, Shutdown. JSON: {"torrents": last status,
      "finished_s": seconds until every torrent was finished, "shutdown_s": seconds until Shutdown answered}

A gRPC error exits 3 and prints "CODE: details" on stderr (CODE as grpc.StatusCode names it, e.g. ALREADY_EXISTS).
"""
import argparse
import json
import os
import sys
import time


def generate(proto, out):
    from grpc_tools import protoc
    os.makedirs(out, exist_ok=True)
    include = os.path.dirname(os.path.abspath(proto))
    rc = protoc.main(['protoc', '-I' + include, '--python_out=' + out, '--grpc_python_out=' + out, os.path.abspath(proto)])
    sys.exit(rc)


def as_dict(torrent):
    # Every field of the message by its .proto name, numbers as numbers (json_format would quote the int64s).
    return {f.name: getattr(torrent, f.name) for f in torrent.DESCRIPTOR.fields}


def session(stub, ezio_pb2, timeout, wait, idle, poll):
    start = time.monotonic()
    finished_s = None
    while True:
        r = stub.GetTorrentStatus(ezio_pb2.UpdateRequest(), timeout=10)
        ts = {h: r.torrents[h] for h in r.hashes}
        if ts and finished_s is None and all(t.is_finished for t in ts.values()):
            finished_s = time.monotonic() - start
        for h, t in ts.items():
            if t.is_paused or not t.is_finished:
                continue
            if t.total_payload_upload > 3 * t.total_done or (t.finished_time > wait and (t.last_upload > idle or t.last_upload == -1)):
                stub.PauseTorrent(ezio_pb2.PauseTorrentRequest(hash=h), timeout=30)
        if ts and all(t.is_finished and t.is_paused for t in ts.values()):
            stub.Shutdown(ezio_pb2.Empty(), timeout=120)
            print(json.dumps({'torrents': {h: as_dict(t) for h, t in ts.items()}, 'finished_s': finished_s,
                              'shutdown_s': time.monotonic() - start}))
            return
        if time.monotonic() - start > timeout:
            print(json.dumps({h: as_dict(t) for h, t in ts.items()}), file=sys.stderr)
            sys.exit(1)
        time.sleep(poll)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == 'gen':
        generate(sys.argv[2], sys.argv[3])
    p = argparse.ArgumentParser()
    p.add_argument('--stubs', default=os.environ.get('EZIO_STUBS', '.'))
    p.add_argument('addr')
    p.add_argument('cmd', choices=['version', 'add', 'status', 'pause', 'resume', 'wait', 'shutdown', 'session'])
    p.add_argument('args', nargs='*')
    p.add_argument('--seed', action='store_true')
    p.add_argument('--max-uploads', type=int, default=0)
    p.add_argument('--max-connections', type=int, default=0)
    p.add_argument('--wait', type=float, default=15)  # ezio_cli.py's MIN_FINISHED_TIME (-w; Clonezilla passes 90)
    p.add_argument('--idle', type=float, default=15)  # ezio_cli.py's MIN_LAST_UPLOAD
    p.add_argument('--poll', type=float, default=0.2)  # wait and session; ezio_cli.py's UPDATE_INTERVAL is 2 s
    a = p.parse_args()
    sys.path.insert(0, a.stubs)
    import grpc
    import ezio_pb2
    import ezio_pb2_grpc

    stub = ezio_pb2_grpc.EZIOStub(grpc.insecure_channel(a.addr))
    try:
        if a.cmd == 'version':
            print(stub.GetVersion(ezio_pb2.Empty(), timeout=10).version)
        elif a.cmd == 'add':
            with open(a.args[0], 'rb') as f:
                body = f.read()
            r = stub.AddTorrent(ezio_pb2.AddRequest(torrent=body, save_path=a.args[1], seeding_mode=a.seed,
                                                    max_uploads=a.max_uploads, max_connections=a.max_connections), timeout=30)
            print(json.dumps({'result': r.result}))
        elif a.cmd == 'status':
            r = stub.GetTorrentStatus(ezio_pb2.UpdateRequest(hashes=a.args), timeout=10)
            print(json.dumps({h: as_dict(r.torrents[h]) for h in r.hashes}))
        elif a.cmd == 'pause':
            stub.PauseTorrent(ezio_pb2.PauseTorrentRequest(hash=a.args[0]), timeout=30)
        elif a.cmd == 'resume':
            stub.ResumeTorrent(ezio_pb2.ResumeTorrentRequest(hash=a.args[0]), timeout=30)
        elif a.cmd == 'wait':
            deadline = time.monotonic() + float(a.args[0])
            hashes = a.args[1:]
            while True:
                r = stub.GetTorrentStatus(ezio_pb2.UpdateRequest(hashes=hashes), timeout=10)
                ts = {h: r.torrents[h] for h in r.hashes}
                if len(ts) == len(hashes) and all(t.is_finished for t in ts.values()):
                    break
                if time.monotonic() > deadline:
                    print(json.dumps({h: as_dict(t) for h, t in ts.items()}), file=sys.stderr)
                    sys.exit(1)
                time.sleep(a.poll)
            print(json.dumps({h: as_dict(t) for h, t in ts.items()}))
        elif a.cmd == 'shutdown':
            stub.Shutdown(ezio_pb2.Empty(), timeout=120)
        elif a.cmd == 'session':
            session(stub, ezio_pb2, float(a.args[0]), a.wait, a.idle, a.poll)
    except grpc.RpcError as e:
        print('%s: %s' % (e.code().name, e.details()), file=sys.stderr)
        sys.exit(3)


if __name__ == '__main__':
    main()
