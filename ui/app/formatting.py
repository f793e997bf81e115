"""Template filters: money with its currency, dates, order events in words."""

from datetime import datetime
from decimal import Decimal, InvalidOperation

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
_EVENTS = {
    "OrderPlaced": "Order placed",
    "ConfirmationEmailSent": "Confirmation e-mail sent",
    "OrderConfirmed": "Order confirmed",
}


def money(amount: object, currency: str | None = None) -> str:
    """'49.9', 'EUR' -> '€49.90'; unknown currencies keep their code: '12.00 CHF'.

    The APIs send money as decimal strings; they are never turned into floats.
    """
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return str(amount)
    text = f"{value:,.2f}"
    if currency in _SYMBOLS:
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        return f"{sign}{_SYMBOLS[currency]}{digits}"
    return f"{text} {currency}" if currency else text


def parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def when(value: object) -> str:
    """'2026-11-24T10:16:03.123+00:00' -> '24 Nov 2026, 10:16 UTC'."""
    moment = parse_time(value)
    if moment is None:
        return str(value or "")
    zone = moment.tzname() or ""
    zone = "UTC" if zone in ("UTC", "UTC+00:00") else zone
    return f"{moment.day} {moment:%b %Y, %H:%M} {zone}".strip()


def iso(value: object) -> str:
    moment = parse_time(value)
    return moment.isoformat() if moment else ""


def event_label(event_type: object) -> str:
    return _EVENTS.get(str(event_type), str(event_type))


def stock_label(stock: object) -> str:
    count = int(stock) if isinstance(stock, int | str) and str(stock).isdigit() else 0
    if count == 0:
        return "Out of stock"
    if count <= 5:
        return f"Only {count} left"
    return "In stock"


FILTERS = {
    "money": money,
    "when": when,
    "iso": iso,
    "event_label": event_label,
    "stock_label": stock_label,
}
