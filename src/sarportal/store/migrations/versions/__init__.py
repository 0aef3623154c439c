"""Migration scripts, applied in order by `sarportal db upgrade`."""
