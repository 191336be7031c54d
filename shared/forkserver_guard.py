"""Imported by the fork server first (shared/forkserver.py's PRELOAD) and by nothing else:
it makes the fork server die with the supervisor that started it.

Linux sends a process its "parent died" signal only for its own parent. The processes forked
from the fork server are its children, each set to get SIGTERM when it dies; the fork server
alone would live on after a `zeroshop up` killed with SIGKILL (its children keep it alive),
so it asks for the same signal from its own parent here. (Linux sends it when the thread
that started the process ends: `zeroshop up` starts the fork server from its main thread.)
"""

import os

from shared.supervisor import die_with_parent

die_with_parent()
if os.getppid() == 1:  # the supervisor died before we asked: nothing left to serve
    os._exit(0)
