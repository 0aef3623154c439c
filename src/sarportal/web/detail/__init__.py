"""The transaction detail page (blueprint `transaction`) and its JSON API (`transaction.api`).

The URL map of this part in one place. `/transactions/<id>` is the page; the customer's fields
are revealed one by one with POSTs (so nothing personal is ever in a URL); the other
transactions of the customer load with a separate request; the action dialog is a GET that
opens it and POSTs that advance it. The API lives under `/api/v1/transactions/<id>`.
"""

from __future__ import annotations

from flask import Blueprint

from sarportal.web.detail import api, dialog, page

bp = Blueprint("transaction", __name__)

ACTION = "/transactions/<tx_id>/actions/<any(refund, capture, cancellation):kind>"

bp.add_url_rule("/transactions/<tx_id>", view_func=page.detail, methods=["GET"])
bp.add_url_rule("/transactions/<tx_id>/customer/<field>", view_func=page.reveal, methods=["POST"])
bp.add_url_rule("/transactions/<tx_id>/related", view_func=page.related, methods=["GET"])
bp.add_url_rule(ACTION, view_func=dialog.action_form, methods=["GET"])
bp.add_url_rule(ACTION, view_func=dialog.act, methods=["POST"])
bp.register_blueprint(api.bp)
