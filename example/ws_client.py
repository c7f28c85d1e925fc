#!/usr/bin/env python3
"""A websocket client written from RFC 6455 with the standard library only:
opens the handshake, sends each argument as a masked text frame, prints each
echoed message on its own line, then performs the close handshake and checks
the server's close frame (code 1000).
    ws_client.py PORT MESSAGE...
"""
import base64, hashlib, os, socket, struct, sys

def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("connection closed early")
        b += c
    return b

def send_frame(s, opcode, payload):
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

def read_frame(s):
    b0, b1 = read_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(s, 8))[0]
    if b1 & 0x80:
        raise SystemExit("server frames must not be masked")
    return b0 & 0x0F, read_exact(s, n)

port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), 5)
s.settimeout(10)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
head = b""
while b"\r\n\r\n" not in head:
    head += read_exact(s, 1)
status = head.split(b"\r\n")[0]
if not status.startswith(b"HTTP/1.1 101"):
    raise SystemExit("handshake refused: %r" % status)
accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
fields = dict((k.strip().lower(), v.strip()) for k, _, v in
              (line.partition(b":") for line in head.split(b"\r\n")[1:] if line))
if fields.get(b"sec-websocket-accept") != accept:
    raise SystemExit("bad Sec-WebSocket-Accept in %r" % head)
for m in sys.argv[2:]:
    send_frame(s, 1, m.encode())
    op, data = read_frame(s)
    if op != 1:
        raise SystemExit("expected a text frame, got opcode %d" % op)
    print(data.decode())
send_frame(s, 8, struct.pack("!H", 1000))
op, data = read_frame(s)
if op != 8 or struct.unpack("!H", data[:2])[0] != 1000:
    raise SystemExit("expected close 1000, got opcode %d %r" % (op, data))
if s.recv(1) != b"":
    raise SystemExit("server did not close the TCP connection after the close handshake")
