"""The transactions room: the table, one transaction's page, and the actions on it.

    table.py     `/transactions` and its CSV export (blueprint `transactions`)
    view.py      what the table's templates show: rows, links, the sort order in words
    detail.py    `/transactions/<id>`: the page, one-field reveals, the customer's other
                 transactions, and the URL map of blueprint `transaction` (the dialog's too)
    dialog.py    refund, capture, cancel: form → step-up → confirmation → the provider
    messages.py  the dialog's sentences
    present.py   the detail page's labels, the masked customer, the audit rows
    actor.py     the signed-in user as the audit log names them (page, dialog, API)

The JSON API of one transaction is `web.api.transaction` (blueprint `transaction.api`).
"""
