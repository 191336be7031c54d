"""Run the sms service: `python -m services.sms`."""

from shared.config import ServiceConfig
from shared.runtime import run_service

from .models import Base
from .senders import sender_from_config
from .service import svc


def main() -> None:
    config = ServiceConfig.from_env("sms")
    run_service(svc, config, Base.metadata, dependencies={"sender": sender_from_config(config)})


if __name__ == "__main__":
    main()
