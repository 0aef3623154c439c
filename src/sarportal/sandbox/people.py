"""Personal data and order lines, derived on demand from the seed: nothing personal is stored.

The same customer number always yields the same person. With the PII canary on, every personal
field carries a unique marker beginning `PIICANARY`, so a scan of what the portal kept can prove
that none of it stayed.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

FIRST_NAMES = (
    "Anna", "Lukas", "Marie", "Leon", "Sophie", "Finn", "Emilia", "Paul", "Hannah", "Jonas",
    "Lea", "Felix", "Mia", "Elias", "Lena", "Noah", "Laura", "Ben", "Clara", "Maximilian",
    "Johanna", "Moritz", "Katharina", "Tobias", "Sabine", "Thomas", "Ursula", "Jürgen", "Petra",
    "Stefan", "Monika", "Andreas", "Birgit", "Michael", "Gabriele", "Frank", "Heike", "Matthias",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Krause", "Meier", "Lehmann", "Huber", "Gruber", "Steiner", "Moser", "Keller",
)  # fmt: skip
STREETS = (
    "Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schillerstraße",
    "Goethestraße", "Kirchplatz", "Am Markt", "Bergstraße", "Waldweg", "Rosenstraße",
    "Mozartgasse", "Seestrasse", "Dorfstrasse",
)  # fmt: skip
CITIES = {
    "DE": (("10115", "Berlin"), ("20095", "Hamburg"), ("80331", "München"), ("50667", "Köln"),
           ("60311", "Frankfurt am Main"), ("70173", "Stuttgart"), ("04109", "Leipzig"),
           ("28195", "Bremen"), ("90402", "Nürnberg"), ("01067", "Dresden")),
    "AT": (("1010", "Wien"), ("8010", "Graz"), ("4020", "Linz"), ("5020", "Salzburg"),
           ("6020", "Innsbruck")),
    "CH": (("8001", "Zürich"), ("3011", "Bern"), ("4051", "Basel"), ("1003", "Lausanne"),
           ("6003", "Luzern")),
}  # fmt: skip
COMPANY_FORMS = {"DE": "GmbH", "AT": "GmbH", "CH": "AG"}
COMPANY_WORDS = (
    "Nordlicht", "Bergwerk", "Alpenblick", "Rheinufer", "Sonnenhof", "Eichenholz", "Lindenbaum",
    "Donautal", "Seeblick", "Hanse",
)  # fmt: skip
TRADES = ("Handel", "Technik", "Bürobedarf", "Gastro", "Logistik", "Design", "Werkstatt")
PHONE_PREFIX = {"DE": "+49", "AT": "+43", "CH": "+41"}
IBAN_PREFIX = {"DE": "DE", "AT": "AT", "CH": "CH"}

PRODUCTS = (
    ("HOME-1001", "Bettwäsche Satin 155×220", 4999, 19.0),
    ("HOME-1002", "Kissen Leinen 40×40", 1999, 19.0),
    ("HOME-1003", "Wolldecke Merino", 8900, 19.0),
    ("KITC-2001", "Espressokanne 6 Tassen", 3490, 19.0),
    ("KITC-2002", "Messerblock 5-teilig", 12900, 19.0),
    ("KITC-2003", "Gusseisenpfanne 28 cm", 6490, 19.0),
    ("FASH-3001", "Strickpullover Wolle", 7995, 19.0),
    ("FASH-3002", "Sneaker Leder", 11900, 19.0),
    ("FASH-3003", "Regenjacke", 14900, 19.0),
    ("BOOK-4001", "Kochbuch Alpenküche", 2800, 7.0),
    ("BOOK-4002", "Reiseführer Ostsee", 1695, 7.0),
    ("ELEC-5001", "Kopfhörer kabellos", 17900, 19.0),
    ("ELEC-5002", "Ladekabel USB-C 2 m", 1299, 19.0),
    ("GARD-6001", "Gartenschere", 2495, 19.0),
    ("OFFI-7001", "Bürostuhl ergonomisch", 34900, 19.0),
    ("OFFI-7002", "Monitorarm", 8900, 19.0),
)
SHIPPING = ("SHIP-0001", "Versand", 0, 19.0)


def _rng(seed: int, kind: str, number: int) -> random.Random:
    digest = hashlib.blake2b(f"{seed}:{kind}:{number}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))  # noqa: S311 - test data, not secrets


class People:
    """Derives customers and order lines from the seed; marks them when the canary is on."""

    def __init__(self, seed: int, *, pii_canary: bool) -> None:
        self._seed = seed
        self._canary = pii_canary

    def _mark(self, value: str, customer_ref: str, field: str) -> str:
        if not self._canary:
            return value
        tag = hashlib.blake2b(f"{customer_ref}:{field}".encode(), digest_size=6).hexdigest()
        return f"PIICANARY{tag} {value}"

    def customer(
        self,
        *,
        merchant_no: int,
        customer_no: int,
        customer_id: str,
        country: str,
        b2b: bool,
        transaction_no: int,
        direct_debit: bool,
    ) -> dict[str, Any]:
        """The personal data of one customer, as the detail endpoint serves it."""
        r = _rng(self._seed, f"customer{merchant_no}", customer_no)
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        postal_code, city = r.choice(CITIES[country])
        street = f"{r.choice(STREETS)} {r.randint(1, 180)}"
        company = None
        if b2b:
            form = COMPANY_FORMS[country]
            company = f"{r.choice(COMPANY_WORDS)} {r.choice(TRADES)} {form}"
        email_local = f"{first}.{last}".lower()
        for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
            email_local = email_local.replace(a, b)
        email = f"{email_local}{r.randint(1, 99)}@example.{country.lower()}"
        phone = f"{PHONE_PREFIX[country]} {r.randint(150, 179)} {r.randint(1_000_000, 9_999_999)}"
        birth = None
        if not b2b:
            birth = f"{r.randint(1946, 2006)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        iban = None
        if direct_debit:
            iban = (
                f"{IBAN_PREFIX[country]}** **** **** **** **{r.randint(10, 99)} {r.randint(10, 99)}"
            )
        billing = {
            "line1": street,
            "line2": None,
            "postal_code": postal_code,
            "city": city,
            "country": country,
        }
        shipping = dict(billing)
        t = _rng(self._seed, f"shipping{merchant_no}", transaction_no)
        if t.random() < 0.15:
            postal_code2, city2 = t.choice(CITIES[country])
            shipping = {
                "line1": f"{t.choice(STREETS)} {t.randint(1, 180)}",
                "line2": f"c/o {t.choice(FIRST_NAMES)} {last}",
                "postal_code": postal_code2,
                "city": city2,
                "country": country,
            }
        ref = customer_id
        return {
            "id": customer_id,
            "type": "b2b" if b2b else "b2c",
            "first_name": self._mark(first, ref, "first_name"),
            "last_name": self._mark(last, ref, "last_name"),
            "name": self._mark(f"{first} {last}", ref, "name"),
            "company": None if company is None else self._mark(company, ref, "company"),
            "email": self._mark(email, ref, "email").replace(" ", "."),
            "phone": self._mark(phone, ref, "phone"),
            "date_of_birth": None if birth is None else self._mark(birth, ref, "date_of_birth"),
            "billing_address": self._mark_address(billing, ref, "billing"),
            "shipping_address": self._mark_address(shipping, f"{ref}:{transaction_no}", "shipping"),
            "iban_masked": None if iban is None else self._mark(iban, ref, "iban"),
        }

    def _mark_address(self, address: dict[str, Any], ref: str, kind: str) -> dict[str, Any]:
        marked = dict(address)
        for field in ("line1", "postal_code", "city"):
            marked[field] = self._mark(address[field], ref, f"{kind}.{field}")
        if address["line2"] is not None:
            marked["line2"] = self._mark(address["line2"], ref, f"{kind}.line2")
        return marked

    def order_lines(
        self, merchant_no: int, transaction_no: int, amount: int
    ) -> list[dict[str, Any]]:
        """Order lines whose totals add up to `amount` exactly."""
        r = _rng(self._seed, f"items{merchant_no}", transaction_no)
        count = min(r.choice((1, 1, 1, 2, 2, 3, 4)), max(1, amount // 100))
        picks = r.sample(PRODUCTS, count)
        weights = [max(1, p[2]) for p in picks]
        total_weight = sum(weights)
        shares = [amount * w // total_weight for w in weights]
        shares[0] += amount - sum(shares)
        lines = []
        for (sku, name, _, tax), share in zip(picks, shares, strict=True):
            quantity = next((q for q in (3, 2) if share % q == 0 and share // q >= 100), 1)
            lines.append(
                {
                    "sku": sku,
                    "name": name,
                    "quantity": quantity,
                    "unit_price": share // quantity,
                    "total_amount": share,
                    "tax_rate": tax,
                }
            )
        return lines
