"""Run the discount service: `python -m services.discount`."""

from shared.config import ServiceConfig
from shared.runtime import run_service

from .models import Base
from .service import seed, svc


def main() -> None:
    run_service(svc, ServiceConfig.from_env("discount"), Base.metadata, seed)


if __name__ == "__main__":
    main()
