"""The only package that imports zmq: codec, RPC server and client, socket set-up.

Services and the gateway use this small API and never touch frames.
"""

from .client import Call, Observer, Outcome, RpcClient, RpcError
from .codec import Reply, Request, decode_request, encode_error, encode_result
from .curve import CurveError, Keyring, start_authenticator
from .pubsub import Publisher, Subscribers
from .replicas import BadEndpoint, ReplicaHealth
from .server import BindError, RpcServer
from .sockets import Context, new_context

__all__ = [
    "BadEndpoint",
    "BindError",
    "Call",
    "Context",
    "CurveError",
    "Keyring",
    "Observer",
    "Outcome",
    "Publisher",
    "Reply",
    "ReplicaHealth",
    "Request",
    "RpcClient",
    "RpcError",
    "RpcServer",
    "Subscribers",
    "decode_request",
    "encode_error",
    "encode_result",
    "new_context",
    "start_authenticator",
]
