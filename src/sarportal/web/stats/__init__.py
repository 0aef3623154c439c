"""The statistics room: the dashboard and the counter page, from one statistics job.

    query.py          what both pages share: their query, their job, the job's state in words
    words.py          the translated words of the charts and cards
    buckets.py        currencies, granularity, time buckets and their labels
    cards.py          the key figure cards: value, previous period, change and its tone
    charts.py         a job's figures shaped into seven charts and their tables
    dashboard.py      `/` (`pages.index`) and its job status (blueprints `pages`, `dashboard`)
    counter.py        `/counter` and its CSV export (blueprint `counter`)
    counter_table.py  the counter page's counters and its table by period

The statistics themselves (fetching, folding, figures) are `sarportal.stats`; the jobs that run
them are `sarportal.jobs`.
"""
