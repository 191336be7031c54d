"""Run the pricing service: `python -m services.pricing`."""

from shared.config import ServiceConfig
from shared.runtime import run_service

from .models import Base
from .service import seed, svc


def main() -> None:
    run_service(svc, ServiceConfig.from_env("pricing"), Base.metadata, seed)


if __name__ == "__main__":
    main()
