"""The service runtime: `Service` (handlers, validation, dispatch) and `run_service`."""

from .run import run_service
from .service import ContractMismatch, Service

__all__ = ["ContractMismatch", "Service", "run_service"]
