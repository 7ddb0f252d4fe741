"""Numbers, power, money and times as an operator reads them, for the pages and the
CLI alike (the API never rounds: it answers in kW and currency units, unrounded).

Pure functions: no Flask, no database. The currency is a setting (``CURRENCY``),
passed in by the door that formats.
"""

from datetime import UTC, datetime

# Power is shown in the largest unit that keeps at least one whole unit.
POWER_UNITS = ((1e6, "GW"), (1e3, "MW"), (1.0, "kW"))
# Currencies written with a symbol before the amount; any other code is written out.
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "AUD": "A$"}
MINUS = "−"


def format_number(value: float | int | None, decimals: int = 2) -> str:
    """Thousands separators, at most ``decimals`` decimals, no trailing zeros; a
    value too small to show at that precision (but not zero) keeps 3 significant
    digits rather than reading as 0."""
    if value is None:
        return "–"
    if value != 0 and abs(value) < 0.5 * 10**-decimals:
        text = f"{value:.3g}"
        if "e" in text:
            text = f"{value:.{decimals + 12}f}".rstrip("0")
        return text.replace("-", MINUS)
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "0"):
        return "0"
    return text.replace("-", MINUS)


def format_power(kw: float | int | None) -> str:
    """kW, MW or GW by magnitude, to two decimals: 950 kW, 1.2 MW, 10.73 GW (a value
    that rounds to 1,000 of a unit is shown in the next: 999,999 kW is 1 GW)."""
    if kw is None:
        return "–"
    for size, unit in reversed(POWER_UNITS):  # kW, MW, GW
        if round(abs(kw) / size, 2) < 1000 or unit == "GW":
            return f"{format_number(kw / size, 2)} {unit}"
    raise AssertionError("unreachable")


def format_money(value: float | int | None, currency: str) -> str:
    """``€1,234.50``, ``−€3.00``, ``CHF 12.00``: two decimals, the currency's symbol
    where it has a common one, its code otherwise."""
    if value is None:
        return "–"
    amount = f"{abs(value):,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    text = f"{symbol}{amount}" if symbol else f"{currency} {amount}"
    return MINUS + text if value < 0 and amount.strip("0.,") else text


def format_input(value: float | int | None) -> str:
    """A number as a form field shows it: as typed, without a trailing ``.0`` or
    separators (``1200``, ``0.0001``, ``1e-07`` stays exact)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def format_time(moment: datetime | str | None) -> str:
    """``2026-11-26 09:14 UTC``: to the minute, in UTC, no microseconds."""
    if moment is None:
        return "–"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


KIND_LABELS = {"chp": "CHP", "demand_response": "Demand response"}


def kind_label(word: str) -> str:
    """A kind or status as a person reads it: ``demand_response`` -> Demand response."""
    return KIND_LABELS.get(word, word.replace("_", " ").capitalize())


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 plant``, ``10,000 plants``."""
    return f"{format_number(count)} {noun if count == 1 else (nouns or noun + 's')}"
