#!/usr/bin/env python3
"""tamper_proxy.py: a TCP proxy that alters one byte of one frame, as whoever can alter the
cluster's traffic would (tests/helper/wire_tamper.sh).

    tamper_proxy.py PORT_FILE TARGET_HOST TARGET_PORT DIRECTION FRAME

listens on 127.0.0.1 (any port, written to PORT_FILE) and relays every connection to
TARGET. On the first connection only, in DIRECTION ("down": from TARGET to the client that
connected, "up": the other way), it reads the wire's frames (16-byte header, u32 length at
offset 8) up to the FRAME-th (from 1), flips one bit in the middle of that frame's payload,
then relays the rest unchanged. The frames before it must be the handshake's (no seal
after them). It says what it altered on stderr."""
import os
import socket
import struct
import sys
import threading

HEADER = 16


def relay(src, dst, tamper_frame):
    """Copies src to dst; when tamper_frame is set, alters that frame first."""
    buf = b""
    try:
        frame = 1
        while tamper_frame:
            data = src.recv(65536)
            if not data:
                return
            buf += data
            while tamper_frame and len(buf) >= HEADER:
                (length,) = struct.unpack_from("<I", buf, 8)
                if frame == tamper_frame:
                    if len(buf) < HEADER + length:
                        break
                    at = HEADER + length // 2
                    buf = buf[:at] + bytes([buf[at] ^ 0x01]) + buf[at + 1:]
                    (kind,) = struct.unpack_from("<H", buf, 6)
                    print(f"tamper_proxy: flipped a bit of frame {frame} (type {kind}, "
                          f"{length} bytes) at payload byte {length // 2}",
                          file=sys.stderr, flush=True)
                    tamper_frame = 0
                    break
                if len(buf) < HEADER + length:
                    break
                dst.sendall(buf[:HEADER + length])
                buf = buf[HEADER + length:]
                frame += 1
        dst.sendall(buf)
        while True:
            data = src.recv(65536)
            if not data:
                return
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    port_file, host, port, direction, frame = sys.argv[1:6]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    with open(port_file + ".tmp", "w") as f:
        f.write(f"{listener.getsockname()[1]}\n")
    os.rename(port_file + ".tmp", port_file)
    first = True
    while True:
        client, _ = listener.accept()
        server = socket.create_connection((host, int(port)))
        down = int(frame) if first and direction == "down" else 0
        up = int(frame) if first and direction == "up" else 0
        first = False
        threading.Thread(target=relay, args=(server, client, down), daemon=True).start()
        threading.Thread(target=relay, args=(client, server, up), daemon=True).start()


if __name__ == "__main__":
    main()
