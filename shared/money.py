"""Money as people read it. Amounts travel as integer minor units with an ISO 4217 code
(JSON keeps them so); every string meant for a person shows them through `format_money`."""

from __future__ import annotations

# Minor units per currency where it is not two decimals (ISO 4217); the demo shop sells in USD.
_DECIMALS = {"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
             "CLP": 0, "ISK": 0, "JPY": 0, "KRW": 0, "PYG": 0, "UGX": 0, "VND": 0}


def format_money(amount_minor: int, currency: str) -> str:
    """`format_money(7079, "USD")` -> "70.79 USD"; `format_money(500, "JPY")` -> "500 JPY"."""
    decimals = _DECIMALS.get(currency, 2)
    whole, part = divmod(abs(amount_minor), 10**decimals)
    sign = "-" if amount_minor < 0 else ""
    number = f"{whole}.{part:0{decimals}d}" if decimals else str(whole)
    return f"{sign}{number} {currency}"
