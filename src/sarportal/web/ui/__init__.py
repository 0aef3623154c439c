"""How pages look and speak: language, time zone, formats, labels, forms, assets.

    frontend.py  the request's language and time zone, the Jinja filters, navigation, assets,
                 the language switch
    formats.py   money, numbers, percentages and times in a locale (plain functions)
    labels.py    the one table of what the contract's words are called, and their tones
    forms.py     the portal's forms: field limits and messages

Imports `web.core` only, never a room.
"""
