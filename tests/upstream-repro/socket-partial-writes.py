#!/usr/bin/env python3
"""The stream transport (net/stream_data.c, shared by -netdev stream and
passt's stream mode) sends the next frame's bytes as the tail of a frame
that a full socket took only in part, when a hub delivers: the net queue
hands it a newer frame from another hub port, not the old one again.
Fixed by 1-net-stream/1.  Run as socket-partial-writes.py, the same
with -netdev socket (net/socket.c), fixed by 1-net-stream/2.

No passt needed: datagrams go in through a dgram netdev, a hub takes them
to a stream netdev on a socket pair whose end we read in small pieces;
each frame must arrive whole (4-byte length, then every byte the same)
and once.
"""
import fcntl
import os
import socket
import struct
import sys
import time

import common
from verdict import cannot_run, not_reproduced, reproduced

FRAMES, FRAME_LEN, CHUNK = 64, 60000, 4093

common.setup()
dg_ours, dg_qemu = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
st_ours, st_qemu = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
# a small send buffer on QEMU's side: most writes are partial
st_qemu.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
for s in (dg_qemu, st_qemu):                    # QEMU inherits them
    fcntl.fcntl(s, fcntl.F_SETFD, 0)
if os.path.basename(sys.argv[0]).startswith('socket'):
    netdev, connected = f'socket,id=st0,fd={st_qemu.fileno()}', 'socket: fd='
else:
    netdev = f'stream,id=st0,addr.type=fd,addr.str={st_qemu.fileno()}'
    connected = 'type=stream,unix:'
q = common.Qemu(args=(
    '-M', 'none',
    '-netdev', f'dgram,id=dg0,local.type=fd,local.str={dg_qemu.fileno()}',
    '-netdev', netdev,
    '-netdev', 'hubport,id=h0,hubid=0,netdev=dg0',
    '-netdev', 'hubport,id=h1,hubid=0,netdev=st0'),
    pass_fds=(dg_qemu.fileno(), st_qemu.fileno()))
dg_qemu.close()
st_qemu.close()

# until connected, the netdev drops frames
if connected not in q.wait_info('st0', connected, 20):
    cannot_run('the netdev did not connect')

dg_ours.setblocking(False)
st_ours.setblocking(False)
want, got, sent = FRAMES * (4 + FRAME_LEN), bytearray(), 0
deadline = time.monotonic() + 30
while len(got) < want and time.monotonic() < deadline:
    while sent < FRAMES:
        try:
            dg_ours.send(bytes([sent]) * FRAME_LEN)
        except BlockingIOError:
            break
        sent += 1
    try:
        got += st_ours.recv(min(want - len(got), CHUNK))
    except BlockingIOError:
        time.sleep(0.001)
print(f'sent {sent} frames of {FRAME_LEN} bytes; read {len(got)} of '
      f'{want} bytes')

bad, seen = [], set()
for i in range(len(got) // (4 + FRAME_LEN)):
    frame = got[i * (4 + FRAME_LEN):(i + 1) * (4 + FRAME_LEN)]
    length, first = struct.unpack('>I', frame[:4])[0], frame[4]
    if length != FRAME_LEN or frame[4:].count(first) != FRAME_LEN:
        others = sorted(set(frame[4:]) - {first})
        bad.append(f'frame {i} (length {length}, starting as frame '
                   f'{first}) has bytes of frames {others[:5]}')
    elif first in seen:
        bad.append(f'frame {first} arrived twice')
    seen.add(first)
for line in bad[:5]:
    print('  ' + line)
down = q.went_down(0)
if down:
    reproduced(f'QEMU went down: {down}')
if bad:
    reproduced(f'{len(bad)} of {len(got) // (4 + FRAME_LEN)} frames arrived '
               'corrupted or twice')
if len(got) < want:
    cannot_run(f'only {len(got)} of {want} bytes arrived')
not_reproduced()
