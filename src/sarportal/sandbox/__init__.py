"""The sandbox: a stand-in for the provider's HTTPS API, with realistic, deterministic data.

It implements the contract in `sarportal/openapi/provider-v1.yaml` and shares no code with the
portal's provider client: a wrong reading of the contract on either side shows up as a failing
test, not as a shared bug.
"""
