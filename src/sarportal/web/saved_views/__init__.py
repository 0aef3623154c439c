"""The saved-views room: named queries of the table, the dashboard and the counter page.

    queries.py  a page's canonical query (what a view keeps) and the page's URL for a view
    menu.py     the views menu each of the three pages shows, with the counts of matches
    summary.py  what a view filters, in words, for the lists of views
    pages.py    `/views` (manage, defaults), saving, the shareable link `/views/<key>`, and
                the default view a page opens with (blueprint `saved_views`)

The rules and the store are `sarportal.saved_views` and `domain.saved_views`; the JSON API is
`web.api.views`.
"""
