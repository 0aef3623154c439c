"""The sandbox's payouts over real TLS, checked against what the transactions say.

The oracle is the transaction list (`GET /v1/transactions`), the contract and domain rules written
out here: a week runs from Monday 00:00 UTC, the money arrives two days after it ends, a capture
is credited with the fee (1.99 % + 0.19, 19 % VAT, half up) right after it. Read-only checks run
on a sandbox of their own that nobody writes to, so the generated history is the whole truth.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sarportal.sandbox.config import SandboxConfig
from sarportal.sandbox.server import sandbox_in_thread
from tests.fixtures.sandbox import RowPicker, SandboxHandle, every_page

CAMT = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"}
TODAY = datetime.now(UTC).date()
LINE_FIELDS = ["type", "transaction_id", "order_reference", "booked_at", "amount", "vat_amount"]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _monday(text: str) -> date:
    day = _time(text).date()
    return day - timedelta(days=day.weekday())


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def fee(captured: int) -> tuple[int, int]:
    """The fee for a capture, VAT included, and its VAT."""
    net = _half_up(Decimal(captured) * Decimal("0.0199")) + 19
    vat = _half_up(Decimal(net) * Decimal("0.19"))
    return net + vat, vat


@dataclass
class Quiet:
    """A sandbox no test writes to, with everything its merchant's payouts hold."""

    handle: SandboxHandle
    client: httpx.Client
    payouts: list[dict[str, Any]]
    lines: dict[str, list[dict[str, Any]]]  # of a sample of payouts, by payout id
    transactions: list[dict[str, Any]]
    claims: list[dict[str, Any]]


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quiet]:
    state_dir = tmp_path_factory.mktemp("payouts")
    config = SandboxConfig(state_dir=state_dir, port=0, transactions=12_000, seed=5)
    with sandbox_in_thread(config) as running:
        handle = SandboxHandle(running, state_dir)
        with handle.client("demo-viewer") as client:
            payouts = every_page(client, "/v1/payouts", 100)
            # Every answer costs ~40 ms here: the newest 30 payouts and every 7th older one.
            sample = payouts[:30] + payouts[30::7]
            lines = {
                p["id"]: every_page(client, f"/v1/payouts/{p['id']}/lines", 1000) for p in sample
            }
            transactions = every_page(client, "/v1/transactions", 1000)
            claims = every_page(client, "/v1/claims", 1000)
            yield Quiet(handle, client, payouts, lines, transactions, claims)


# -- sums and ground truth -------------------------------------------------------------------


def _sampled(quiet: Quiet) -> list[dict[str, Any]]:
    return [p for p in quiet.payouts if p["id"] in quiet.lines]


def test_lines_add_up_to_their_payout_and_its_totals(quiet: Quiet) -> None:
    for payout in _sampled(quiet):
        lines = quiet.lines[payout["id"]]
        by_type = Counter[str]()
        for line in lines:
            by_type[line["type"]] += line["amount"]
        assert len(lines) == payout["line_count"] > 0
        assert sum(line["amount"] for line in lines) == payout["amount"]
        assert by_type["capture"] == payout["captures"]
        assert by_type["refund"] == payout["refunds"]
        assert by_type["fee"] == payout["fees"]
        assert by_type["claim"] == payout["claims"]
        assert sum(line["vat_amount"] for line in lines) == payout["fee_vat"]
        parts = ("captures", "refunds", "fees", "claims", "direct_payments")
        assert payout["amount"] == sum(payout[k] for k in parts)
        assert payout["direct_payments"] == 0
        start, end = _time(payout["period_start"]), _time(payout["period_end"])
        assert all(start <= _time(line["booked_at"]) < end for line in lines)


def test_each_capture_is_followed_by_its_fee_in_booking_order(quiet: Quiet) -> None:
    for payout in _sampled(quiet):
        lines = quiet.lines[payout["id"]]
        assert [line["booked_at"] for line in lines] == sorted(line["booked_at"] for line in lines)
        for i, line in enumerate(lines):
            if line["type"] != "capture":
                assert line["type"] in ("fee", "refund", "claim")
                assert line["amount"] < 0
                continue
            after = lines[i + 1]
            gross, vat = fee(line["amount"])
            assert after["type"] == "fee"
            assert (after["transaction_id"], after["booked_at"]) == (
                line["transaction_id"],
                line["booked_at"],
            )
            assert (after["amount"], after["vat_amount"]) == (-gross, -vat)
            assert line["vat_amount"] == 0


def test_captures_per_week_are_the_transactions_captures(quiet: Quiet) -> None:
    """Ground truth from the transaction list: with no write, each captured transaction was
    captured once, at `captured_at`, for its `captured_amount`. Every payout's capture total
    is checked, and the capture lines of the sampled ones one by one."""
    expected: dict[tuple[date, str], Counter[tuple[str, int]]] = defaultdict(Counter)
    for tx in quiet.transactions:
        if tx["captured_at"] is not None:
            week = _monday(tx["captured_at"])
            expected[(week, tx["currency"])][(tx["id"], tx["captured_amount"])] += 1

    def key(payout: dict[str, Any]) -> tuple[date, str]:
        return _time(payout["period_start"]).date(), payout["currency"]

    captured = {key(p): p["captures"] for p in quiet.payouts if p["captures"]}
    assert captured == {k: sum(a * n for (_, a), n in c.items()) for k, c in expected.items()}
    for payout in _sampled(quiet):
        lines = quiet.lines[payout["id"]]
        captures = Counter(
            (line["transaction_id"], line["amount"]) for line in lines if line["type"] == "capture"
        )
        assert captures == expected.get(key(payout), Counter())
    refunded = sum(tx["refunded_amount"] for tx in quiet.transactions)
    assert -sum(p["refunds"] for p in quiet.payouts) == refunded > 0
    referenced = {tx["id"]: tx["order_reference"] for tx in quiet.transactions}
    for lines in quiet.lines.values():
        assert all(referenced[line["transaction_id"]] == line["order_reference"] for line in lines)


def test_claim_deductions_are_the_deducted_claims(quiet: Quiet) -> None:
    """Each accepted, expired or lost claim is one `claim` line, booked when it was decided, in
    the payout it names; the payouts' claim totals are those claims and nothing else."""
    deducted = [c for c in quiet.claims if c["status"] in ("accepted", "expired", "lost")]
    assert len(deducted) > 20
    by_payout = Counter[str]()
    for claim in quiet.claims:
        assert (claim["deducted_in_payout"] is None) == (claim not in deducted)
        if claim["deducted_in_payout"] is not None:
            by_payout[claim["deducted_in_payout"]] -= claim["amount"]
    assert {p["id"]: p["claims"] for p in quiet.payouts if p["claims"]} == by_payout
    for payout in _sampled(quiet):
        lines = [line for line in quiet.lines[payout["id"]] if line["type"] == "claim"]
        wanted = [
            (c["transaction_id"], c["order_reference"], c["decided_at"], -c["amount"], 0)
            for c in deducted
            if c["deducted_in_payout"] == payout["id"]
        ]
        fields = ("transaction_id", "order_reference", "booked_at", "amount", "vat_amount")
        assert sorted(tuple(line[k] for k in fields) for line in lines) == sorted(wanted)
    assert any(p["claims"] < 0 for p in _sampled(quiet))


def test_periods_and_statuses_follow_the_dates(quiet: Quiet) -> None:
    before = datetime.now(UTC)
    payouts = every_page(quiet.client, "/v1/payouts", 100)
    after = datetime.now(UTC)

    def status(payout: dict[str, Any], now: datetime) -> str:
        arrival = datetime.combine(date.fromisoformat(payout["arrival_date"]), datetime.min.time())
        if now < _time(payout["period_end"]):
            return "pending"
        return "in_transit" if now < arrival.replace(tzinfo=UTC) else "paid"

    for payout in payouts:
        start, end = _time(payout["period_start"]), _time(payout["period_end"])
        assert start.weekday() == 0 and start.time() == datetime.min.time()
        assert end - start == timedelta(days=7)
        assert date.fromisoformat(payout["arrival_date"]) == end.date() + timedelta(days=2)
        assert payout["status"] in (status(payout, before), status(payout, after))
        year, week, _ = start.isocalendar()
        code = payout["bank_reference"].split()
        assert code[:3] == ["SAR", f"{year}-{week:02d}", payout["currency"]]
    assert payouts[0]["status"] == "pending" or payouts[0]["status"] == "in_transit"
    assert {p["status"] for p in payouts} >= {"paid"}
    assert len({p["bank_reference"] for p in payouts}) == len({p["id"] for p in payouts})


# -- filters and paging ----------------------------------------------------------------------


def test_pages_yield_each_payout_once_newest_first(quiet: Quiet) -> None:
    paged = every_page(quiet.client, "/v1/payouts", 7)
    assert paged == quiet.payouts
    keys = [(p["arrival_date"], p["currency"]) for p in paged]
    assert keys == sorted(keys, key=lambda k: (-date.fromisoformat(k[0]).toordinal(), k[1]))
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    "params",
    [
        {"status": "paid"},
        {"status": ["pending", "in_transit"], "currency": "CHF"},
        {"currency": ["EUR", "XXX"]},
        {"arrival_from": str(TODAY - timedelta(days=300)), "arrival_to": str(TODAY)},
        {"arrival_to": str(TODAY - timedelta(days=600)), "status": "paid", "currency": "EUR"},
    ],
)
def test_filters_select_exactly_the_matching_payouts_and_total_them(
    quiet: Quiet, params: dict[str, Any]
) -> None:
    def wanted(payout: dict[str, Any]) -> bool:
        def allowed(name: str, value: str) -> bool:
            values = params.get(name)
            return values is None or value in ([values] if isinstance(values, str) else values)

        arrival = payout["arrival_date"]
        return (
            allowed("status", payout["status"])
            and allowed("currency", payout["currency"])
            and arrival >= params.get("arrival_from", "0000")
            and arrival < params.get("arrival_to", "9999")
        )

    matching = every_page(quiet.client, "/v1/payouts", 9, **params)
    assert matching == [p for p in quiet.payouts if wanted(p)]
    assert matching, "the seeded data should hold matching payouts"
    first = quiet.client.get("/v1/payouts", params={**params, "include_totals": "true"}).json()
    totals: dict[str, list[int]] = {}
    for payout in matching:
        entry = totals.setdefault(payout["currency"], [0, 0])
        entry[0] += 1
        entry[1] += payout["amount"]
    assert first["totals"] == [
        {"currency": c, "count": n, "amount": a} for c, (n, a) in sorted(totals.items())
    ]


def test_a_list_cursor_is_bound_to_its_filters(quiet: Quiet) -> None:
    cursor = quiet.client.get("/v1/payouts", params={"limit": 2}).json()["next_cursor"]
    other = quiet.client.get("/v1/payouts", params={"cursor": cursor, "currency": "EUR"})
    assert other.status_code == 400 and other.json()["param"] == "cursor"


def test_line_pages_yield_each_line_once(quiet: Quiet) -> None:
    biggest = max(_sampled(quiet), key=lambda p: p["line_count"])
    paged = every_page(quiet.client, f"/v1/payouts/{biggest['id']}/lines", 37)
    assert paged == quiet.lines[biggest["id"]]
    assert len(paged) == biggest["line_count"] > 37


def test_another_merchants_payout_is_not_found(quiet: Quiet) -> None:
    with quiet.handle.client("other-operator") as other:
        theirs = other.get("/v1/payouts", params={"limit": 1}).json()["data"][0]
        assert other.get(f"/v1/payouts/{theirs['id']}").status_code == 200
    assert theirs["id"] not in {p["id"] for p in quiet.payouts}
    for part, params in (("", {}), ("/lines", {}), ("/export", {"format": "csv"})):
        response = quiet.client.get(f"/v1/payouts/{theirs['id']}{part}", params=params)
        assert response.status_code == 404 and response.json()["code"] == "not_found"


# -- writes ----------------------------------------------------------------------------------


def _pending_payout(client: httpx.Client, currency: str, at: str) -> dict[str, Any] | None:
    """The payout of `currency` whose period holds the moment `at`, if there is one."""
    for payout in every_page(client, "/v1/payouts", 10, currency=currency, status="pending"):
        if _time(payout["period_start"]) <= _time(at) < _time(payout["period_end"]):
            return payout
    return None


def _write(client: httpx.Client, tx: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        f"/v1/transactions/{tx}/{action}", json=body, headers={"Idempotency-Key": f"po-{tx}"}
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_written_capture_and_refund_appear_in_the_pending_payout(
    sandbox: SandboxHandle, fresh_rows: RowPicker
) -> None:
    authorized, captured = fresh_rows.take("authorized"), fresh_rows.take("captured")
    with sandbox.client() as client:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        before = {
            c: _pending_payout(client, c, now)
            for c in {authorized["currency"], captured["currency"]}
        }
        capture = _write(client, authorized["id"], "captures", {"amount": 500})
        refund = _write(client, captured["id"], "refunds", {"amount": 300, "reason": "return"})
        change = Counter({authorized["currency"]: 500 - fee(500)[0]})
        change[captured["currency"]] -= 300
        for tx, action, lines_wanted in (
            (authorized, capture, [("capture", 500, 0), ("fee", -fee(500)[0], -fee(500)[1])]),
            (captured, refund, [("refund", -300, 0)]),
        ):
            payout = _pending_payout(client, tx["currency"], action["created_at"])
            assert payout is not None
            lines = every_page(client, f"/v1/payouts/{payout['id']}/lines", 1000)
            mine = [
                (line["type"], line["amount"], line["vat_amount"])
                for line in lines
                if line["transaction_id"] == tx["id"] and line["booked_at"] == action["created_at"]
            ]
            assert mine == lines_wanted
            assert sum(line["amount"] for line in lines) == payout["amount"]
            assert len(lines) == payout["line_count"]
            earlier = before[tx["currency"]]
            if earlier is not None and earlier["id"] == payout["id"]:  # the week did not turn
                assert payout["amount"] - earlier["amount"] == change[tx["currency"]]


# -- exports ---------------------------------------------------------------------------------


def _export(quiet: Quiet, payout: dict[str, Any], file_format: str) -> httpx.Response:
    response = quiet.client.get(
        f"/v1/payouts/{payout['id']}/export", params={"format": file_format}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-line-count"] == str(payout["line_count"])
    return response


def test_the_csv_export_holds_the_lines(quiet: Quiet) -> None:
    payout = quiet.payouts[3]  # the sample holds the newest 30
    response = _export(quiet, payout, "csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    name = f'attachment; filename="payout-{payout["id"]}.csv"'
    assert response.headers["content-disposition"] == name
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert list(rows[0]) == [
        "payout_id", "bank_reference", "arrival_date", "type", "transaction_id",
        "order_reference", "booked_at", "currency", "amount", "vat_amount",
    ]  # fmt: skip
    assert rows == [
        {
            "payout_id": payout["id"],
            "bank_reference": payout["bank_reference"],
            "arrival_date": payout["arrival_date"],
            "currency": payout["currency"],
            **{k: str(line[k]) for k in LINE_FIELDS},
        }
        for line in quiet.lines[payout["id"]]
    ]


def test_the_datev_export_is_an_extf_booking_batch(quiet: Quiet) -> None:
    payout = quiet.payouts[4]
    response = _export(quiet, payout, "datev")
    assert response.headers["content-type"] == "text/csv; charset=windows-1252"
    assert f'filename="EXTF_payout-{payout["id"]}.csv"' in response.headers["content-disposition"]
    text = response.content.decode("cp1252")
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    header, columns, bookings = records[0], records[1], records[2:]
    assert header[:5] == ["EXTF", "700", "21", "Buchungsstapel", "13"]
    assert columns[:2] == ["Umsatz (ohne Soll/Haben-Kz)", "Soll/Haben-Kennzeichen"]
    assert "BU-Schlüssel" in columns and text.endswith("\r\n")
    lines = quiet.lines[payout["id"]]
    assert len(bookings) == len(lines)
    total = Decimal(0)
    for booking, line in zip(bookings, lines, strict=True):
        row = dict(zip(columns, booking, strict=True))
        value = Decimal(row["Umsatz (ohne Soll/Haben-Kz)"].replace(",", "."))
        assert value > 0 and value * 100 == abs(line["amount"])
        assert row["Soll/Haben-Kennzeichen"] == ("S" if line["type"] == "capture" else "H")
        total += value if row["Soll/Haben-Kennzeichen"] == "S" else -value
        assert row["Konto"] == "1361" and row["WKZ Umsatz"] == payout["currency"]
        fee_line = line["type"] == "fee"
        assert row["Gegenkonto (ohne BU-Schlüssel)"] == ("4970" if fee_line else "1400")
        assert row["BU-Schlüssel"] == ("9" if fee_line else "")
        booked = _time(line["booked_at"])
        assert row["Belegdatum"] == f"{booked.day:02d}{booked.month:02d}"
        assert row["Belegfeld 1"] == line["order_reference"]
    assert total * 100 == payout["amount"]


def _signed(entry: ET.Element) -> Decimal:
    value = Decimal(entry.findtext("c:Amt", namespaces=CAMT) or "")
    return value if entry.findtext("c:CdtDbtInd", namespaces=CAMT) == "CRDT" else -value


def test_the_camt053_export_is_a_statement_whose_entries_sum_to_its_closing_balance(
    quiet: Quiet,
) -> None:
    payout = quiet.payouts[5]
    response = _export(quiet, payout, "camt053")
    assert response.headers["content-type"] == "application/xml"
    assert f'filename="payout-{payout["id"]}.xml"' in response.headers["content-disposition"]
    document = ET.fromstring(response.content)  # noqa: S314 - our own sandbox's answer
    statement = document.find("c:BkToCstmrStmt/c:Stmt", CAMT)
    assert statement is not None
    assert statement.findtext("c:Id", namespaces=CAMT) == payout["id"]
    iban = statement.findtext("c:Acct/c:Id/c:IBAN", namespaces=CAMT) or ""
    assert int("".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])) % 97 == 1
    balances = {
        b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=CAMT): _signed(b)
        for b in statement.findall("c:Bal", CAMT)
    }
    assert balances == {"OPBD": 0, "CLBD": Decimal(payout["amount"]) / 100}
    entries = statement.findall("c:Ntry", CAMT)
    lines = quiet.lines[payout["id"]]
    assert len(entries) == len(lines)
    assert sum(_signed(e) for e in entries) == balances["CLBD"]
    for entry, line in zip(entries, lines, strict=True):
        assert _signed(entry) * 100 == line["amount"]
        assert entry.findtext("c:Sts/c:Cd", namespaces=CAMT) == "BOOK"
        assert entry.findtext("c:BookgDt/c:Dt", namespaces=CAMT) == line["booked_at"][:10]
        details = "c:NtryDtls/c:TxDtls/"
        tx = entry.findtext(f"{details}c:Refs/c:EndToEndId", namespaces=CAMT)
        assert tx == line["transaction_id"]
        text = entry.findtext(f"{details}c:RmtInf/c:Ustrd", namespaces=CAMT)
        assert text == line["order_reference"]


def test_no_payout_answer_holds_personal_data(make_sandbox: Any) -> None:
    handle = make_sandbox(pii_canary=True, transactions=400)
    with handle.client("demo-viewer") as client:
        some_tx = client.get("/v1/transactions", params={"limit": 1}).json()["data"][0]
        assert "PIICANARY" in client.get(f"/v1/transactions/{some_tx['id']}").text
        listed = client.get("/v1/payouts", params={"limit": 12, "include_totals": "true"})
        answers = [listed]
        for payout in listed.json()["data"]:
            base = f"/v1/payouts/{payout['id']}"
            answers += [client.get(base), client.get(f"{base}/lines", params={"limit": 1000})]
            answers += [
                client.get(f"{base}/export", params={"format": f})
                for f in ("csv", "datev", "camt053")
            ]
    assert len(answers) > 6
    for answer in answers:
        assert answer.status_code == 200
        assert b"PIICANARY" not in answer.content
        assert b"@" not in answer.content  # no e-mail address either


def test_a_cut_short_export_keeps_its_line_count_so_it_shows(make_sandbox: Any) -> None:
    handle = make_sandbox(transactions=2000)
    with handle.client("demo-viewer") as client:
        payouts = client.get("/v1/payouts", params={"limit": 100}).json()["data"]
        payout = max(payouts, key=lambda p: p["line_count"])
        path = f"/v1/payouts/{payout['id']}/export"
        handle.running.app.faults.schedule("truncated", path, "GET", 1)
        cut = client.get(path, params={"format": "csv"})
        whole = client.get(path, params={"format": "csv"})
    assert cut.status_code == whole.status_code == 200
    for response in (cut, whole):
        assert response.headers["x-line-count"] == str(payout["line_count"])
        assert response.headers["content-disposition"].startswith("attachment;")
    count = len(list(csv.DictReader(io.StringIO(whole.text, newline=""))))
    assert count == payout["line_count"] > 10
    assert len(list(csv.DictReader(io.StringIO(cut.text, newline="")))) < count


def test_monthly_payouts_cover_calendar_months(make_sandbox: Any) -> None:
    handle = make_sandbox(payout_interval="month", transactions=3000)
    with handle.client("demo-viewer") as client:
        payouts = every_page(client, "/v1/payouts", 100)
        newest = payouts[0]
        lines = every_page(client, f"/v1/payouts/{newest['id']}/lines", 1000)
        transactions = every_page(client, "/v1/transactions", 1000)
    months = Counter[tuple[str, str]]()
    for tx in transactions:
        if tx["captured_at"] is not None:
            months[(tx["captured_at"][:7], tx["currency"])] += tx["captured_amount"]
    assert {(p["period_start"][:7], p["currency"]): p["captures"] for p in payouts} == months
    for payout in payouts:
        start, end = _time(payout["period_start"]), _time(payout["period_end"])
        assert start.day == 1 and end.day == 1 and start.time() == datetime.min.time()
        assert 28 <= (end - start).days <= 31
        assert date.fromisoformat(payout["arrival_date"]) == end.date() + timedelta(days=2)
        assert payout["bank_reference"].split()[1] == payout["period_start"][:7]
    assert sum(line["amount"] for line in lines) == newest["amount"]


def test_the_sandbox_cli_offers_the_payout_interval(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sarportal.sandbox.cli import sandbox

    result = CliRunner().invoke(sandbox, ["--help"])
    assert "--payout-interval [week|month]" in result.output
    bad = CliRunner().invoke(sandbox, ["--payout-interval", "day", "--state-dir", str(tmp_path)])
    assert bad.exit_code == 2
