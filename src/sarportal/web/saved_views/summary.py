"""What a saved view filters, in words: the lists of views show it beside each name.

`summary(view)` reads the view's filters back and names each one as the filter form does
("Status: Captured, Refunded", "Country: Switzerland"), in the request's language; an empty
list means the view shows every transaction. How the page shows them (sort, page size, the
statistics' display choices) is left out: it is not what the view matches.
"""

from __future__ import annotations

from sarportal.domain.saved_views import SavedView
from sarportal.web.saved_views.queries import filters_of
from sarportal.web.ui.filter_form import FilterForm, field_labels, vocabulary
from sarportal.web.ui.locale import current_locale

_DISPLAY = frozenset({"order", "per_page"})


def summary(view: SavedView) -> list[tuple[str, str]]:
    """The view's filters as (field, values) pairs in the form's order."""
    form = FilterForm.from_filters(filters_of(view), current_locale())
    words = vocabulary()
    parts = []
    for name, label in field_labels().items():
        if name in _DISPLAY:
            continue
        names: dict[str, str] = words.get(name, {})
        codes = sorted(form.chosen.get(name, ())) or (
            [form.value(name)] if form.value(name) else []
        )
        if codes:
            parts.append((label, ", ".join(names.get(code, code) for code in codes)))
    return parts
