"""The fleet as CSV: its columns, and the guard that keeps a spreadsheet from running
a plant's name as a formula (export adds it, import takes it off again)."""

from vpp.services.fleet import PLANT_FIELDS

CSV_COLUMNS = ("id", *PLANT_FIELDS)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"


def _reads_as_guarded(text: str) -> bool:
    """Would ``unguard_formula`` take a quote off ``text``? When it starts with the
    guard followed by a formula character or another guard."""
    return text.startswith(GUARD) and text[1:].startswith((*FORMULA_STARTS, GUARD))


def guard_formula(text: str) -> str:
    """CSV export: a name such as ``=HYPERLINK(...)`` is written as ``'=HYPERLINK(...)``
    so that a spreadsheet shows it as text instead of running it. A name that itself
    reads as guarded (``'=x``, ``''x``) gets one more quote, so that import gives it
    back unchanged; ``'s-Hertogenbosch`` is written as it is."""
    return GUARD + text if text.startswith(FORMULA_STARTS) or _reads_as_guarded(text) else text


def unguard_formula(text: str) -> str:
    """CSV import: undo ``guard_formula`` (export then import gives every name back)."""
    return text[1:] if _reads_as_guarded(text) else text
