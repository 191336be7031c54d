"""Run the orders service: `python -m services.orders`."""

from shared.config import ServiceConfig
from shared.runtime import run_service

from .models import Base
from .service import svc


def main() -> None:
    run_service(svc, ServiceConfig.from_env("orders"), Base.metadata)


if __name__ == "__main__":
    main()
