"""Numbers as an operator reads them (vpp/formatting.py), for pages and CLI alike."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpp.config import ConfigError, settings_from_environment
from vpp.formatting import (
    format_input,
    format_money,
    format_number,
    format_power,
    format_time,
    plural,
)


@pytest.mark.parametrize(
    ("kw", "shown"),
    [
        (0, "0 kW"),
        (0.0001, "0.0001 kW"),
        (0.5, "0.5 kW"),
        (950, "950 kW"),
        (999.994, "999.99 kW"),
        (1000, "1 MW"),
        (1200, "1.2 MW"),
        (18_800, "18.8 MW"),
        (999_999, "1 GW"),
        (999_994, "999.99 MW"),
        (999.996, "1 MW"),
        (1_000_000, "1 GW"),
        (10_727_624.1, "10.73 GW"),
        (43_536, "43.54 MW"),
        (-2500, "−2.5 MW"),
    ],
)
def test_power_is_scaled_to_its_magnitude(kw, shown):
    assert format_power(kw) == shown


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_power_never_reads_zero_for_a_value_that_is_not(kw):
    shown = format_power(kw)
    number, unit = shown.split(" ")
    assert unit in ("kW", "MW", "GW")
    assert (number == "0") == (kw == 0), (kw, shown)


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (387.2, "EUR", "€387.20"),
        (1234567.891, "USD", "$1,234,567.89"),
        (-3, "GBP", "−£3.00"),
        (12, "CHF", "CHF 12.00"),
        (-0.001, "EUR", "€0.00"),
        (None, "EUR", "–"),
    ],
)
def test_money_shows_its_currency(value, currency, shown):
    assert format_money(value, currency) == shown


def test_counts_have_thousands_separators():
    assert format_number(10000) == "10,000"
    assert plural(1, "plant") == "1 plant" and plural(10000, "plant") == "10,000 plants"


@pytest.mark.parametrize(
    ("value", "shown"), [(1200.0, "1200"), (0.0001, "0.0001"), (-3.5, "-3.5"), (1e-7, "1e-07")]
)
def test_inputs_show_a_number_as_one_types_it(value, shown):
    assert format_input(value) == shown
    assert float(format_input(value)) == value


def test_times_are_to_the_second_in_utc():
    assert format_time("2026-11-26T09:14:03.123456+00:00") == "2026-11-26 09:14:03 UTC"


def test_the_currency_is_a_setting():
    assert settings_from_environment({})["CURRENCY"] == "EUR"
    assert settings_from_environment({"CURRENCY": "usd"})["CURRENCY"] == "USD"
    with pytest.raises(ConfigError, match="CURRENCY"):
        settings_from_environment({"CURRENCY": "euros"})


def test_the_pages_show_the_configured_currency(app, client):
    from tests.helpers import add_plants

    add_plants(app, {"name": "Genset", "max_capacity": 500, "marginal_cost": 90})
    app.config["CURRENCY"] = "USD"
    page = client.get("/").get_data(as_text=True)
    assert "$90.00" in page and "costs in USD" in page
