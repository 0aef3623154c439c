"""The only code that talks to the provider: verified TLS, per-user tokens, typed answers.

`Provider(config)` holds the connection pool and the token cache; `provider.session(credentials)`
gives the typed operations for one user. Errors are the tree in `errors.py`.
"""

from sarportal.provider.client import Credentials, Provider, ProviderSession
from sarportal.provider.transport import InsecureProviderURL, ProviderConfig

__all__ = ["Credentials", "InsecureProviderURL", "Provider", "ProviderConfig", "ProviderSession"]
