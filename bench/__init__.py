"""`make bench`: every speed figure of the project, measured side by side in one run."""
