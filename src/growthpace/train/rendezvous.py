"""Where the processes of one training run meet: a free local port and a one-process group.

Its own module so the launcher (which picks the port for its workers) and the worker (which may run
without a launcher) both use it without importing each other.
"""
from __future__ import annotations

import os
import socket


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_process_group_env() -> None:
    """DeepSpeed without a launcher looks for MPI; a lone process gets a one-process group instead."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(free_port()))
