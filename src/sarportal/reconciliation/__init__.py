"""Drop-in reconciliation: a bank statement read in memory and matched against the payouts.

`statements.read_statement(data, filename)` reads camt.053 (XML) or MT940 (SWIFT text) into plain
entries; `matching.reconcile(entries, period, payouts)` says which payouts arrived as announced
and lists the exceptions. The file is never written anywhere: it is parsed from bytes and
dropped with the request, and nothing of it reaches a log.
"""
