"""Pure rules: money, transaction states and amount limits, filters, roles."""
