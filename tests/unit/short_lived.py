"""A stand-in child for the restart tests: says it is ready, then exits with SHORT_LIVED_EXIT."""

import json
import os

print(json.dumps({"event": "ready", "service": "short", "endpoint": "tcp://127.0.0.1:1"}),
      flush=True)
raise SystemExit(int(os.environ.get("SHORT_LIVED_EXIT", "3")))
