"""The approvals room: four-eyes approval of money actions above a threshold.

    intents.py  the dialog's and the API's question "does this need approval?", and the request
    pages.py    `/approvals` (waiting and decided requests, approve, reject, withdraw), the
                admins' thresholds (`/approvals/settings`), the navigation's badge (blueprint
                `approvals`)

The rules and the store are `sarportal.approvals` and `domain.approvals`; the JSON API is
`web.api.approvals`.
"""
