"""S0's floor: a minimal pyzmq ROUTER that answers every request with one fixed reply (the
bytes of a real service's reply, so the same size) and does nothing else. Started by
bench/s0_rpc as `python -m bench.s0_rpc.bare_server`, one process per page service; the
reply comes from the file named by S0_BARE_REPLY. SIGTERM or SIGINT ends it.
"""

import json
import os
import signal
from pathlib import Path

import zmq


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it quietly, like SIGTERM
    reply = Path(os.environ["S0_BARE_REPLY"]).read_bytes()
    sock = zmq.Context().socket(zmq.ROUTER)
    sock.bind("tcp://127.0.0.1:*")
    endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    print(json.dumps({"event": "ready", "service": "bare", "endpoint": endpoint}), flush=True)
    while True:
        frames = sock.recv_multipart()
        sock.send_multipart([*frames[:-1], reply])  # the envelope back, then the reply


if __name__ == "__main__":
    main()
