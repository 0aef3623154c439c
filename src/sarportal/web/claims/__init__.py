"""The claims (disputes) inbox and a claim's page, read live from the provider."""
