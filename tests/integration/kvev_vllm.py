#!/usr/bin/python3
"""vLLM's KV events on the wire (src/kvev, docs/kv-events.md) against an independent
implementation: pyzmq and msgpack-python, with the structures built here the way vLLM's
msgspec encoder lays them out (tag=True, omit_defaults; array_like for the older layout).

  kvev_vllm.py KVEV_TOOL

Part A: kvev_tool publishes (map and array layouts); we subscribe, check each frame
[topic, seq, payload] and the payload's exact structure (keys and their order, float64 ts),
then ask the ROUTER for a replay and check the answers and the -1 end marker.
Part B: we publish vLLM-layout batches (both layouts, int and 32-byte hashes, extra and
unknown keys) on an XPUB + ROUTER; kvev_tool subscribes; a gap that replay fills, a gap
past the replay buffer (resync), and a publisher restart (resync).

Every process is killed on the way out, also on failure. Waits are on events with a
deadline, never fixed sleeps. Exit 0 = pass, 77 = skip (no pyzmq/msgpack), else fail.
"""
import json
import os
import select
import subprocess
import sys
import time

try:
    import msgpack
    import zmq
except ImportError as e:  # the caller checks first; this is a second guard
    print(f"skip: {e}")
    sys.exit(77)

TOOL = sys.argv[1]
DEADLINE = 10.0
END = b"\xff" * 8
procs = []


def spawn(*args):
    p = subprocess.Popen([TOOL, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p.pending = b""  # bytes read past the last full line
    procs.append(p)
    return p


def has_line(p):
    return b"\n" in p.pending


def fill(p, timeout):
    """Reads what the tool wrote (unbuffered, so select() tells the truth)."""
    r, _, _ = select.select([p.stdout], [], [], timeout)
    if not r:
        return False
    chunk = os.read(p.stdout.fileno(), 65536)
    if not chunk:
        raise AssertionError(f"{p.args[1]} exited (status {p.wait()})")
    p.pending += chunk
    return True


def read_json(p, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while not has_line(p):
        left = deadline - time.monotonic()
        if left <= 0 or not fill(p, left):
            raise AssertionError(f"no output from {p.args[1]} within {timeout}s")
    line, p.pending = p.pending.split(b"\n", 1)
    return json.loads(line)


def finish(p):
    p.stdin.close()
    out = p.pending + p.stdout.read()
    assert p.wait(timeout=DEADLINE) == 0, f"{p.args[1]} exit status {p.returncode}"
    return [json.loads(l) for l in out.splitlines() if l]


def recv(sock, timeout=DEADLINE):
    if not sock.poll(int(timeout * 1000)):
        raise AssertionError("no message within the deadline")
    return sock.recv_multipart()


# ---- fixtures: batches in the tool's JSON (hashes as decimal strings) ----

BIG = 2**64 - 1
TOKENS = list(range(1, 17))
BATCHES = [
    {"ts": 1700000000.25, "data_parallel_rank": 0, "events": [
        {"type": "BlockStored", "block_hashes": ["1", str(BIG)], "parent_block_hash": None,
         "token_ids": TOKENS + [150000] * 16, "block_size": 16, "lora_id": None,
         "medium": "GPU", "lora_name": None},
        {"type": "BlockStored", "block_hashes": [str(2**63 + 5)], "parent_block_hash": str(BIG),
         "token_ids": [7] * 16, "block_size": 16, "lora_id": 3, "medium": "CPU",
         "lora_name": "sql-adapter"}]},
    {"ts": 1700000001.5, "data_parallel_rank": 2, "events": [
        {"type": "BlockRemoved", "block_hashes": ["1", "300"], "medium": "GPU"},
        {"type": "BlockRemoved", "block_hashes": ["70000"], "medium": None}]},
    {"ts": 1700000002.0, "data_parallel_rank": None, "events": [{"type": "AllBlocksCleared"}]},
]


def vllm_event(e, layout):
    """The event as msgspec lays out vLLM's structs (tag first, declaration order)."""
    h = lambda x: None if x is None else int(x)
    if e["type"] == "BlockStored":
        fields = [("block_hashes", [h(x) for x in e["block_hashes"]]),
                  ("parent_block_hash", h(e["parent_block_hash"])),
                  ("token_ids", e["token_ids"]), ("block_size", e["block_size"]),
                  ("lora_id", e["lora_id"]), ("medium", e["medium"]),
                  ("lora_name", e["lora_name"])]
    elif e["type"] == "BlockRemoved":
        fields = [("block_hashes", [h(x) for x in e["block_hashes"]]), ("medium", e["medium"])]
    else:
        fields = []
    if layout == "map":
        return dict([("type", e["type"])] + fields)
    return [e["type"]] + [v for _, v in fields]


def vllm_batch(b, layout):
    events = [vllm_event(e, layout) for e in b["events"]]
    rank = b["data_parallel_rank"]
    if layout == "map":
        d = {"ts": b["ts"], "events": events}
        if rank is not None:
            d["data_parallel_rank"] = rank
        return d
    return [b["ts"], events] + ([rank] if rank is not None else [])


def ordered(x):
    """Maps as lists of pairs, so == also compares key order."""
    if isinstance(x, dict):
        return [(k, ordered(v)) for k, v in x.items()]
    if isinstance(x, list):
        return [ordered(v) for v in x]
    return x


def part_a(ctx, layout):
    cfg = {"enable_kv_cache_events": True, "publisher": "zmq", "endpoint": "tcp://127.0.0.1:0",
           "replay_endpoint": "tcp://127.0.0.1:0", "buffer_steps": 10, "hwm": 1000,
           "topic": "kv-events", "encoding": layout}
    p = spawn("pub", json.dumps(cfg), json.dumps(BATCHES))
    eps = read_json(p)
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"kv-events")
    sub.connect(eps["endpoint"])
    assert read_json(p) == {"published": len(BATCHES)}
    payloads = []
    for seq, b in enumerate(BATCHES):
        frames = recv(sub)
        assert len(frames) == 3, frames
        topic, seqb, payload = frames
        assert topic == b"kv-events", topic
        assert seqb == seq.to_bytes(8, "big"), seqb
        got = msgpack.unpackb(payload, raw=False, strict_map_key=False)
        want = vllm_batch(b, layout)
        assert ordered(got) == ordered(want), f"{layout} seq {seq}:\n got {got}\nwant {want}"
        # ts is a float64 (0xcb), as msgspec writes a Python float
        ts_head = b"\xa2ts\xcb" if layout == "map" else (b"\x93\xcb", b"\x92\xcb")
        assert (payload.startswith(b"\x83" + ts_head) or payload.startswith(b"\x82" + ts_head)
                if layout == "map" else payload.startswith(ts_head)), payload[:8]
        payloads.append(payload)
    # Replay from seq 1: [b"", seq, payload] for 1 and 2, then [b"", -1, b""].
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(eps["replay_endpoint"])
    dealer.send_multipart([b"", (1).to_bytes(8, "big")])
    for seq in (1, 2):
        assert recv(dealer) == [b"", seq.to_bytes(8, "big"), payloads[seq]]
    assert recv(dealer) == [b"", (-1).to_bytes(8, "big", signed=True), b""]
    # A replay from past the end: the end marker only.
    dealer.send_multipart([b"", (99).to_bytes(8, "big")])
    assert recv(dealer) == [b"", END, b""]
    sub.close()
    dealer.close()
    finish(p)
    print(f"ok: part A ({layout}): frames, msgspec layout, replay and end marker")


# ---- part B: we publish as vLLM does ----

def digest(i):
    return bytes(range(i, i + 24)) + (0x1000 + i).to_bytes(8, "big")


def b_batch(seq, layout, rank=0, hashes="int", extra=False):
    hs = [digest(seq * 4 + k) for k in range(2)]
    wire = hs if hashes == "bytes" else [int.from_bytes(h[-8:], "big") for h in hs]
    keys = [str(int.from_bytes(h[-8:], "big")) for h in hs]
    toks = [seq * 100 + k for k in range(32)]
    if layout == "map":
        ev = {"type": "BlockStored", "block_hashes": wire, "parent_block_hash": None,
              "token_ids": toks, "block_size": 16, "lora_id": None, "medium": "GPU",
              "lora_name": None}
        if extra:
            ev.update({"extra_keys": [None, ["img", 0]], "group_idx": 1,
                       "kv_cache_spec_kind": "full_attention", "future_field": {"x": [1]}})
        rm = {"type": "BlockRemoved", "block_hashes": [wire[0]], "medium": "CPU"}
        batch = {"ts": 1700000100.0 + seq, "events": [ev, rm, {"type": "AllBlocksCleared"}]}
        if rank is not None:
            batch["data_parallel_rank"] = rank
        if extra:
            batch["some_new_key"] = "ignored"
    else:
        ev = ["BlockStored", wire, None, toks, 16, None, "GPU"]  # older: no lora_name
        rm = ["BlockRemoved", [wire[0]], "CPU"]
        batch = [1700000100.0 + seq, [ev, rm, ["AllBlocksCleared"]]]
        if rank is not None:
            batch.append(rank)
    want = {"ts": 1700000100.0 + seq, "data_parallel_rank": rank, "events": [
        {"type": "BlockStored", "block_hashes": keys, "medium": "GPU", "parent_block_hash": None,
         "token_ids": toks, "block_size": 16, "lora_id": None, "lora_name": None},
        {"type": "BlockRemoved", "block_hashes": [keys[0]], "medium": "CPU"},
        {"type": "AllBlocksCleared"}]}
    return msgpack.packb(batch, use_bin_type=True), want


def part_b(ctx):
    pub = ctx.socket(zmq.XPUB)  # PUB on the wire; tells us when the subscriber is in
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    rport = router.bind_to_random_port("tcp://127.0.0.1")
    p = spawn("sub", f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{rport}", "kv")
    assert read_json(p) == {"ready": True}
    assert recv(pub)[0] == b"\x01kv"  # the subscription

    buffer = {}  # seq -> payload, what our ROUTER can replay
    wants = {}

    def make(seq, *a, **k):
        buffer[seq], wants[seq] = b_batch(seq, *a, **k)

    def send(seq):
        pub.send_multipart([b"kv", seq.to_bytes(8, "big"), buffer[seq]])

    def expect(want_lines):
        """Reads the tool's lines, serving replay requests meanwhile."""
        got = []
        deadline = time.monotonic() + DEADLINE
        while len(got) < len(want_lines):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; got {got}, want {want_lines}"
            if has_line(p) or fill(p, 0.0):
                if has_line(p):
                    got.append(read_json(p))
                continue
            if router.poll(int(min(left, 0.05) * 1000)):
                ident, empty, start = router.recv_multipart()
                assert empty == b"" and len(start) == 8
                s = int.from_bytes(start, "big")
                for q in sorted(buffer):
                    if q >= s:
                        router.send_multipart([ident, b"", q.to_bytes(8, "big"), buffer[q]])
                router.send_multipart([ident, b"", END, b""])
        for g, w in zip(got, want_lines):
            if isinstance(w, str):
                assert "resync" in g and w in g["resync"], f"got {g}, want a resync with '{w}'"
            else:
                assert g == {"seq": str(w), "batch": wants[w]}, f"got {g}\nwant seq {w}: {wants[w]}"

    make(0, "map")
    make(1, "array", hashes="bytes")
    make(2, "array", rank=None)
    make(3, "map", hashes="bytes", extra=True)
    for s in range(4):
        send(s)
    expect([0, 1, 2, 3])
    print("ok: part B: map and array layouts, int and 32-byte hashes, unknown keys")

    # A gap: 4 and 5 never go out live, only into the replay buffer.
    for s in (4, 5, 6):
        make(s, "map")
    send(6)
    expect([4, 5, 6])
    print("ok: part B: a gap filled by replay, in order, once")

    # A gap past the buffer: 7..9 are lost for good; the replay starts at 10.
    buffer.clear()
    make(10, "map")
    send(10)
    expect(["buffer is too short", 10])
    print("ok: part B: a gap past the replay buffer gives a resync")

    # The publisher restarts: seq 0 again.
    buffer.clear()
    make(0, "array")
    send(0)
    expect(["went back", 0])
    print("ok: part B: a publisher restart gives a resync")

    lines = finish(p)
    stats = lines[-1]["stats"]
    assert stats["gaps"] == 2 and stats["replayed"] == 3 and stats["resyncs"] == 2, stats
    assert stats["decode_errors"] == 0 and stats["batches"] == 9, stats
    pub.close()
    router.close()


def main():
    ctx = zmq.Context()
    try:
        part_a(ctx, "map")
        part_a(ctx, "array")
        part_b(ctx)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        ctx.destroy(linger=0)
    print("ok: all")


if __name__ == "__main__":
    main()
