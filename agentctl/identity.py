"""Who decides an approval: the OS user the daemon verified, beside the name claimed.

On the Unix socket the kernel tells the daemon which process connected
(SO_PEERCRED: pid, uid, gid); its user is the approver, whatever the client
says. A name given with `--as` is recorded beside it as a claim. Over TCP the
bearer token is the daemon owner's, so a decision there is the owner's, with
the claimed name beside it. A caller in the daemon's own process (tests,
benchmarks) is trusted with the name it gives.

A policy rule may name who may decide (`approvers = ["alice", "group:oncall"]`):
a user name, or `group:NAME` for any member of that Unix group (its primary
group counts).
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Via = Literal["socket", "tcp", "in-process"]

_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


@dataclass(frozen=True)
class Identity:
    user: str
    groups: frozenset[str]
    via: Via
    verified: bool  # the kernel said so (the socket), not the client
    uid: int | None = None
    pid: int | None = None

    def may_decide(self, approvers: Sequence[str]) -> bool:
        if not approvers:
            return True
        for name in approvers:
            if name.startswith("group:"):
                if name.removeprefix("group:") in self.groups:
                    return True
            elif name == self.user:
                return True
        return False

    def describe(self) -> str:
        how = {
            "socket": "verified from the socket's peer credentials",
            "tcp": "the daemon's owner, over TCP with its token",
            "in-process": "as given in-process",
        }[self.via]
        return f"{self.user} ({how})"


def peer_credentials(sock: socket.socket) -> tuple[int, int, int] | None:
    """(pid, uid, gid) of the process at the other end of a Unix socket, else None."""
    if sock.family != socket.AF_UNIX:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    pid, uid, gid = _PEERCRED.unpack(raw)
    return pid, uid, gid


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def groups_of(user: str, gid: int | None = None) -> frozenset[str]:
    """The names of the groups `user` is in (its primary group included)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return frozenset()
    ids = os.getgrouplist(user, entry.pw_gid if gid is None else gid)
    names = set()
    for group_id in ids:
        try:
            names.add(grp.getgrgid(group_id).gr_name)
        except KeyError:
            continue
    return frozenset(names)


def from_peer(pid: int, uid: int, gid: int) -> Identity:
    user = user_name(uid)
    return Identity(user, groups_of(user, gid), "socket", True, uid=uid, pid=pid)


def daemon_owner(via: Via = "tcp") -> Identity:
    user = user_name(os.getuid())
    return Identity(user, groups_of(user), via, via != "in-process", uid=os.getuid())


def claimed(name: str) -> Identity:
    """An in-process caller: trusted with the name it gives."""
    return Identity(name, groups_of(name), "in-process", False)


__all__ = ["Identity", "claimed", "daemon_owner", "from_peer", "groups_of", "peer_credentials"]
