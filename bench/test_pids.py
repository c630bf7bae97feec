#!/usr/bin/env python3
"""The meters read QEMU, not what the bench started: meters.qemu_process.

    python3 bench/test_pids.py      # a few seconds; root not needed

Each QEMU (ours, every anchor whose binary is there) is started as the
bench starts it (setsid, QMP on a socket we listen on), idle (-M none).
Sid's QEMU runs as the child of bwrap, which stays: the pid we started is
bwrap's, and its CPU time, RSS and syscalls would pass for QEMU's.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import config                       # first: sys.path for hostlib
from config import ANCHORS, QEMU
import hostlib as H
from meters import exe_path, proc_ticks, qemu_process, rss_kb


class StartedQemu:
    """setsid QEMU -M none, connected to our QMP socket, as the bench's
    SessionGuest runs it."""

    def __init__(self, qemu):
        self.dir = tempfile.mkdtemp(prefix='bench-pids-')
        path = os.path.join(self.dir, 'qmp.sock')
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(path)
        lsock.listen(1)
        lsock.settimeout(30)
        self.proc = subprocess.Popen(
            ['setsid', qemu, '-M', 'none', '-display', 'none',
             '-chardev', 'socket,id=qmp,path=' + path,
             '-mon', 'chardev=qmp,mode=control'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            self.conn, _ = lsock.accept()
        finally:
            lsock.close()

    def close(self):
        self.conn.close()               # QEMU's monitor hangs up: no matter
        self.proc.terminate()
        self.proc.wait(10)
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


def threads(pid):
    return len(os.listdir('/proc/%d/task' % pid))


class QemuProcess(unittest.TestCase):
    def check(self, qemu, wrapped):
        if not os.access(qemu, os.X_OK):
            self.skipTest('no QEMU at %s' % qemu)
        q = StartedQemu(qemu)
        try:
            pid = qemu_process(q.proc.pid, q.conn)
            exe = os.path.basename(exe_path(pid))
            self.assertTrue(exe.startswith('qemu-system-'), exe)
            # QEMU has its RCU and main threads at least; bwrap has one
            self.assertGreater(threads(pid), 1)
            self.assertIsNotNone(proc_ticks(pid))
            self.assertIsNotNone(rss_kb(pid))
            if wrapped:
                self.assertNotEqual(pid, q.proc.pid)
                self.assertEqual(os.path.basename(exe_path(q.proc.pid)),
                                 'bwrap')
                self.assertEqual(threads(q.proc.pid), 1)
                self.assertIn(pid, H.descendants(q.proc.pid))
            else:
                self.assertEqual(pid, q.proc.pid)
        finally:
            q.close()

    def test_ours(self):
        self.check(QEMU, wrapped=False)

    def test_not_below(self):
        """A QMP peer that is not the started process nor below it (here:
        ourselves) is refused, not metered."""
        a, b = socket.socketpair()
        with a, b:
            sleeper = subprocess.Popen(['sleep', '30'])
            try:
                self.assertRaises(RuntimeError, qemu_process, sleeper.pid, a)
            finally:
                sleeper.kill()
                sleeper.wait()


def under_bwrap(qemu):
    """Whether qemu is a script that runs QEMU under bwrap (sid's)."""
    try:
        with open(qemu, 'rb') as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.startswith(b'#!') and b'exec bwrap ' in head


def anchor_test(anchor):
    return lambda self: self.check(anchor['qemu'], under_bwrap(anchor['qemu']))


for _an in ANCHORS:
    setattr(QemuProcess, 'test_anchor_' + _an['key'].replace('.', '_'),
            anchor_test(_an))


if __name__ == '__main__':
    unittest.main(verbosity=2)
