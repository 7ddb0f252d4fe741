"""The formatting of ``vpp.formatting`` as Jinja filters, with the app's currency."""

from flask import Flask, current_app

from vpp import formatting


def money(value: float | int | None) -> str:
    return formatting.format_money(value, current_app.config["CURRENCY"])


def register_filters(app: Flask) -> None:
    app.add_template_filter(formatting.format_number, "number")
    app.add_template_filter(formatting.format_power, "power")
    app.add_template_filter(money, "money")
    app.add_template_filter(formatting.format_time, "when")
    app.add_template_filter(formatting.kind_label, "kind_label")
    app.add_template_filter(formatting.plural, "plural")
