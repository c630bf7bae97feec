#!/usr/bin/env python3
"""vhost-user set-up failing on passt's side: when vhost_net_init() fails
on passt's first connection, upstream 10.2 hands its NULL vhost_net to
vhost_net_cleanup(): QEMU crashes (and were it to survive, it would wait
for ever for a socket pair to connect again).  Fixed by
2-passt-fixes/7, which fails the netdev instead.

path= is a stand-in, ready as passt is (pid file written, in the
background unless told --foreground), that hangs up on QEMU: given the
connection as --fd 3 (upstream 10.2), it closes it at once; told to listen
on --socket (the series), it links that path to a socket of ours, which
hangs up on QEMU's first vhost-user message.
"""
import os
import socket
import threading

import common
from verdict import not_reproduced, reproduced

common.setup()
q = common.Qemu()
listen_path = os.path.join(q.tmp, 'listen')
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(listen_path)
listener.listen(1)
listener.settimeout(20)
heard = []


def hang_up_on_first_message():
    try:
        conn, _ = listener.accept()
    except OSError:
        return
    with conn:
        conn.settimeout(10)
        try:
            heard.append(len(conn.recv(12)))
        except OSError:
            heard.append(0)


threading.Thread(target=hang_up_on_first_message, daemon=True).start()
hang_up = q.stand_in('passt-hangs-up', f"""
while [ $# -gt 0 ]; do
    case $1 in
    --pid) pidfile=$2 ;; --socket) sock=$2 ;; --foreground) fg=1 ;;
    esac
    shift
done
exec 3>&-
[ -z "$sock" ] || ln -sf '{listen_path}' "$sock"
# exec -a: argv[0] names the private directory, where the cleanup finds it
if [ -n "$fg" ]; then
    echo $$ > "$pidfile"
    exec -a "$0" sleep 60
fi
(exec -a "$0" sleep 60) &
echo $! > "$pidfile"
""", shell='/bin/bash')
add = q.netdev_add_vhost_user(hang_up, timeout=15)
print(f'netdev_add vhost-user=on, path=<a passt that hangs up>: {add}')
print('our socket, for a --socket: ' +
      (f'QEMU connected, sent {heard[0]} bytes, hung up on' if heard
       else 'unused'))
down = q.went_down(3)
print(f'QEMU (pid {q.qemu_pid}) {down or "still running"}; '
      f'stderr: {q.stderr()[-300:]!r}')
listener.close()
if down:
    reproduced('a failed vhost-user set-up took QEMU down: ' + down)
if 'no answer' in str(add):
    reproduced('a failed vhost-user set-up left netdev_add without answer')
not_reproduced()
