"""The bulk room: one action over many transactions, as a job.

    pages.py   plan from the table's ticked rows or filters, review, start, progress, stop,
               the outcome as CSV (blueprint `bulk`)
    upload.py  a CSV of transaction ids or order references, checked line by line

The rules and the runner are `sarportal.bulk` and `domain.bulk`.
"""
