"""The payouts pages: the list with totals per currency, a payout's detail with its lines, and
its accounting files streamed from the provider."""
