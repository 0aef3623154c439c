"""Why a statistics job failed, as stable codes: a job keeps the code, never a sentence.

`web.problems` turns a code into a title and a text in the reader's language; the API returns
the code beside that text. A provider error's code is `ProviderError.portal_code`.
"""

from __future__ import annotations

from typing import Final

NO_PROVIDER: Final = "no_provider"
NO_CREDENTIALS: Final = "no_provider_credentials"
FILTERS_REFUSED: Final = "filters_refused"
PROVIDER_UNAVAILABLE: Final = "provider_unavailable"
FAILED: Final = "stats_failed"
CANCELLED: Final = "stats_cancelled"
