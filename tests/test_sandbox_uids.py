"""Kernel uids are leased machine-wide: two graders never run kernels under one uid, whose process
limit (RLIMIT_NPROC) a fork bomb in either would exhaust for both."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from autograder import sandbox


def test_leases_held_at_once_have_different_uids():
    leases = [sandbox.UidLease() for _ in range(3)]
    try:
        uids = [le.uid for le in leases]
        assert len(set(uids)) == 3
        assert all(sandbox.BASE_UID <= u < sandbox.BASE_UID + sandbox.UID_RANGE for u in uids)
    finally:
        for le in leases:
            le.release()


def test_a_lease_is_free_again_once_released():
    a = sandbox.UidLease()
    b = sandbox.UidLease()
    b.release()
    c = sandbox.UidLease()  # the lowest free uid is taken first: b's, now free again
    try:
        assert c.uid == b.uid != a.uid
    finally:
        a.release()
        c.release()


@pytest.mark.skipif(os.geteuid() != 0, reason="starting a process under another uid needs root")
def test_leftovers_under_a_uid_are_killed():
    uid = sandbox.BASE_UID + sandbox.UID_RANGE - 1
    p = subprocess.Popen(["sleep", "60"], user=uid, group=uid)
    try:
        time.sleep(0.2)
        sandbox._kill_uid(uid)
        assert p.wait(timeout=5) != 0
    finally:
        if p.poll() is None:
            p.kill()
