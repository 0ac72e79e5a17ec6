#!/usr/bin/env python3
"""Counts the documents of a MongoDB collection over the wire protocol (one OP_MSG `count`),
with nothing but Python's standard library: no mongosh or driver exists on this machine.

  mongo-count.py HOST:PORT DATABASE COLLECTION    # prints the count; exit 1 on any error
"""
import socket
import struct
import sys

OP_MSG = 2013


def cstring(s):
    return s.encode() + b"\0"


def bson_doc(fields):
    """A BSON document of string values (all the count command needs)."""
    body = b"".join(b"\x02" + cstring(k) + struct.pack("<i", len(v.encode()) + 1) + cstring(v)
                    for k, v in fields)
    return struct.pack("<i", len(body) + 5) + body + b"\0"


def bson_read(doc):
    """The top-level numbers and strings of a BSON document (enough for a command's reply)."""
    out, i = {}, 4
    while doc[i] != 0:
        kind = doc[i]
        end = doc.index(b"\0", i + 1)
        key, i = doc[i + 1:end].decode(), end + 1
        if kind == 0x01:
            out[key], i = struct.unpack_from("<d", doc, i)[0], i + 8
        elif kind == 0x10:
            out[key], i = struct.unpack_from("<i", doc, i)[0], i + 4
        elif kind == 0x12:
            out[key], i = struct.unpack_from("<q", doc, i)[0], i + 8
        elif kind == 0x02:
            n = struct.unpack_from("<i", doc, i)[0]
            out[key], i = doc[i + 4:i + 3 + n].decode(), i + 4 + n
        elif kind in (0x03, 0x04):
            i += struct.unpack_from("<i", doc, i)[0]
        elif kind == 0x08:
            out[key], i = doc[i] == 1, i + 1
        elif kind == 0x0A:
            out[key] = None
        else:
            raise ValueError(f"unexpected BSON type {kind:#x} for {key}")
    return out


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed by the server")
        data += chunk
    return data


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    host, port = sys.argv[1].rsplit(":", 1)
    db, collection = sys.argv[2], sys.argv[3]
    body = struct.pack("<I", 0) + b"\0" + bson_doc([("count", collection), ("$db", db)])
    header = struct.pack("<iiii", 16 + len(body), 1, 0, OP_MSG)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(header + body)
        length, _, _, opcode = struct.unpack("<iiii", recv_exact(s, 16))
        reply = recv_exact(s, length - 16)
    if opcode != OP_MSG or reply[4] != 0:
        sys.exit(f"unexpected reply (opcode {opcode})")
    answer = bson_read(reply[5:])
    if answer.get("ok") != 1.0 or "n" not in answer:
        sys.exit(f"count failed: {answer}")
    print(answer["n"])


if __name__ == "__main__":
    main()
