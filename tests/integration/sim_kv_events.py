"""A KV-event subscriber written apart from wellpath, with pyzmq and msgpack (Debian's
python3-zmq and python3-msgpack), for tests/integration/sim_kv_events.test.mjs.

Connects a SUB to the live endpoint and a DEALER to the replay endpoint, asks the replay for
everything from seq 0 (so nothing published before the SUB joined is missed), then prints
every batch once, in seq order, as a JSON line: {"seq": n, "topic": "...", "batch": ...}, with
msgpack bytes as {"hex": "..."} and integers past 2^53 (hashes) as decimal strings. Prints {"ready": true} once the replay's end marker came.
Runs until killed.
"""
import json
import sys

import msgpack
import zmq


def plain(v):
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**53:
        return str(v)  # JSON numbers lose digits past 2^53 in JavaScript
    if isinstance(v, bytes):
        return {"hex": v.hex()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    return v


def emit(seq, topic, payload, seen):
    if seq in seen:
        return
    seen.add(seq)
    batch = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    print(json.dumps({"seq": seq, "topic": topic.decode(), "batch": plain(batch)}), flush=True)


def main():
    live, replay = sys.argv[1], sys.argv[2]
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(live)
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect(replay)
    dealer.send_multipart([b"", (0).to_bytes(8, "big")])
    seen, held = set(), []
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    poller.register(dealer, zmq.POLLIN)
    replaying = True
    while True:
        for sock, _ in poller.poll():
            if sock is dealer:
                _, seq, payload = dealer.recv_multipart()
                if seq == b"\xff" * 8:
                    replaying = False
                    print(json.dumps({"ready": True}), flush=True)
                    for s, t, p in sorted(held):
                        emit(s, t, p, seen)
                    held = []
                else:
                    emit(int.from_bytes(seq, "big"), b"", payload, seen)
            else:
                topic, seq, payload = sub.recv_multipart()
                s = int.from_bytes(seq, "big")
                if replaying:
                    held.append((s, topic, payload))
                else:
                    emit(s, topic, payload, seen)


if __name__ == "__main__":
    main()
