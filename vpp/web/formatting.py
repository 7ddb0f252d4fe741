"""Jinja filters that format numbers for people (the API never rounds)."""

from flask import Flask


def format_number(value: float | int | None, decimals: int = 2) -> str:
    """Thousands separators, at most ``decimals`` decimals, no trailing zeros."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_kw(value: float | int | None) -> str:
    return f"{format_number(value)} kW"


KIND_LABELS = {"chp": "CHP", "demand_response": "Demand response"}


def kind_label(word: str) -> str:
    """A kind or status as a person reads it: ``demand_response`` -> Demand response."""
    return KIND_LABELS.get(word, word.replace("_", " ").capitalize())


def register_filters(app: Flask) -> None:
    app.add_template_filter(format_number, "number")
    app.add_template_filter(format_kw, "kw")
    app.add_template_filter(kind_label, "kind_label")
