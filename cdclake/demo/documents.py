"""Deterministic documents of the ``ledger`` database.

A document is a pure function of (seed, collection, index, version): the simulator only
has to remember each document's version, never the document itself, so a source of ten
million documents costs a few bytes per document in memory.
"""

from __future__ import annotations

import datetime as dt
import random
import struct
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bson import Decimal128, Int64, ObjectId

UTC = dt.UTC
COLLECTIONS = ("clients", "engagements", "invoices", "journal_entries")
# Documents of these collections are deleted by the simulated application; the others
# are referenced by key from elsewhere, so they are only ever inserted and updated.
DELETABLE = frozenset({"invoices", "journal_entries"})
_COLLECTION_CODE = {name: code for code, name in enumerate(COLLECTIONS, start=1)}
_EPOCH_2020 = 1_577_836_800

_CLIENT_NAMES = (
    "Müller & Söhne GmbH",
    "Société Générale de Conseil",
    "Ørsted Advisory ApS",
    "Łódź Logistics Sp. z o.o.",
    "株式会社サクラ会計",
    "Café Olé S.L.",
    "Nguyễn Trading Co.",
    "Acme Holdings Ltd",
    "Blue Fjord AS",
    "O'Brien & Partners LLP",
    "Zürich Präzision AG",
    "São Paulo Importações Ltda",
    "Κρήτη Shipping",
    "Dvořák Audio s.r.o.",
)
_CITIES = (
    ("Berlin", "DE"),
    ("Paris", "FR"),
    ("København", "DK"),
    ("Łódź", "PL"),
    ("東京", "JP"),
    ("Sevilla", "ES"),
    ("Hà Nội", "VN"),
    ("London", "GB"),
    ("Zürich", "CH"),
    ("São Paulo", "BR"),
)
_CLIENT_STATUS = ("active", "active", "active", "inactive", "prospect")
_ENGAGEMENT_TYPES = ("audit", "tax", "advisory", "bookkeeping")
_ENGAGEMENT_STATUS = ("planned", "active", "active", "completed")
_INVOICE_STATUS = ("draft", "issued", "issued", "paid", "void")
_CURRENCIES = ("EUR", "EUR", "USD", "GBP", "CHF", "JPY")
_SERVICES = (
    "Annual audit fieldwork",
    "VAT return Q3",
    "Payroll processing",
    "Advisory — M&A due diligence",
    "Bookkeeping (monthly)",
    "Steuerberatung",
    "Révision des comptes",
    "Year-end close support",
)
_ACCOUNTS = ("1000", "1200", "1400", "2000", "2100", "3000", "4000", "4100", "6000", "7000")
CENT = Decimal("0.01")


def object_id(collection: str, index: int) -> ObjectId:
    """The ObjectId of document ``index``: creation time in front, like a real one."""
    created = _EPOCH_2020 + index * 37
    tail = bytes([_COLLECTION_CODE[collection]]) + index.to_bytes(7, "big")
    return ObjectId(struct.pack(">I", created) + tail)


def journal_key(index: int) -> str:
    """Journal entries use string keys, as some applications do."""
    return f"JE-{index:09d}"


def document_key(collection: str, index: int) -> Any:
    return journal_key(index) if collection == "journal_entries" else object_id(collection, index)


def _rng(seed: int, collection: str, index: int, version: int) -> random.Random:
    return random.Random(f"{seed}:{collection}:{index}:{version}")


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return (Decimal(rng.randint(low * 100, high * 100)) / 100).quantize(CENT)


def _timestamp(rng: random.Random, start_year: int, end_year: int) -> dt.datetime:
    start = dt.datetime(start_year, 1, 1, tzinfo=UTC)
    span_ms = int((dt.datetime(end_year, 1, 1, tzinfo=UTC) - start).total_seconds() * 1000)
    return start + dt.timedelta(milliseconds=rng.randrange(span_ms))


def _client(rng: random.Random, seed: int, index: int, version: int) -> dict[str, Any]:
    city, country = rng.choice(_CITIES)
    doc: dict[str, Any] = {
        "_id": object_id("clients", index),
        "name": f"{rng.choice(_CLIENT_NAMES)} #{index}",
        "tax_id": f"{country}{rng.randrange(10**8, 10**9)}",
        "email": f"billing{index}@client{index % 97}.example",
        "status": rng.choice(_CLIENT_STATUS),
        # Founding dates reach back before 1970: negative BSON dates must survive.
        "founded_on": _timestamp(rng, 1921, 2020).replace(hour=0, minute=0, second=0, microsecond=0),
        "created_at": _timestamp(rng, 2020, 2026),
        "address": {
            "street": f"{rng.randint(1, 200)} Hauptstraße",
            "city": city,
            "country": country,
            "postal_code": f"{rng.randrange(10000, 99999)}",
        },
        "tags": rng.sample(["vip", "sme", "public-sector", "non-profit", "group"], k=rng.randint(0, 3)),
        "credit_limit": Decimal128(_money(rng, 1_000, 500_000)),
        "employee_count": rng.randint(1, 5000),
        "annual_revenue": Int64(rng.randrange(10**5, 10**12)),
        "risk_score": round(rng.random() * 100, 3),
        "version": version,
    }
    # null and missing are different things in MongoDB: keep both on purpose.
    if rng.random() < 0.3:
        doc["vat_number"] = None
    elif rng.random() < 0.5:
        doc["vat_number"] = f"VAT{rng.randrange(10**6, 10**7)}"
    return doc


def _engagement(rng: random.Random, seed: int, index: int, version: int) -> dict[str, Any]:
    start = _timestamp(rng, 2021, 2026)
    doc: dict[str, Any] = {
        "_id": object_id("engagements", index),
        "client_id": object_id("clients", rng.randrange(max(1, index // 2 + 1))),
        "code": f"ENG-{index:07d}",
        "type": rng.choice(_ENGAGEMENT_TYPES),
        "status": rng.choice(_ENGAGEMENT_STATUS),
        "start_date": start,
        "hourly_rate": Decimal128(_money(rng, 80, 450)),
        "budget_hours": rng.randint(10, 2000),
        "partner": {
            "name": rng.choice(("Anna Kowalska", "José Núñez", "Chloé Dubois")),
            "email": f"partner{rng.randint(1, 9)}@firm.example",
        },
        "version": version,
    }
    if rng.random() < 0.5:
        doc["end_date"] = start + dt.timedelta(days=rng.randint(30, 400))
    elif rng.random() < 0.5:
        doc["end_date"] = None
    return doc


def _invoice(rng: random.Random, seed: int, index: int, version: int) -> dict[str, Any]:
    lines = []
    for line_no in range(1, rng.randint(1, 5) + 1):
        quantity = Decimal(rng.randint(1, 400)) / 4
        unit_price = _money(rng, 50, 500)
        lines.append(
            {
                "line_no": line_no,
                "description": rng.choice(_SERVICES),
                "quantity": Decimal128(quantity),
                "unit_price": Decimal128(unit_price),
                "amount": Decimal128((quantity * unit_price).quantize(CENT)),
                "tax_rate": rng.choice((0.0, 0.07, 0.19, 0.2)),
            }
        )
    issued = _timestamp(rng, 2023, 2027)
    engagement_index = rng.randrange(max(1, index // 4 + 1))
    doc: dict[str, Any] = {
        "_id": object_id("invoices", index),
        "number": f"INV-{issued.year}-{index:07d}",
        "client_id": object_id("clients", rng.randrange(max(1, index // 8 + 1))),
        "engagement_id": object_id("engagements", engagement_index),
        "status": rng.choice(_INVOICE_STATUS),
        "currency": rng.choice(_CURRENCIES),
        "issued_at": issued,
        "due_at": issued + dt.timedelta(days=rng.choice((14, 30, 60))),
        "lines": lines,
        "total": Decimal128(sum((line["amount"].to_decimal() for line in lines), Decimal("0.00"))),
        "version": version,
    }
    if doc["status"] == "paid":
        doc["paid_at"] = issued + dt.timedelta(days=rng.randint(1, 90), milliseconds=rng.randrange(86_400_000))
    return doc


def _journal_entry(rng: random.Random, seed: int, index: int, version: int) -> dict[str, Any]:
    amounts = [_money(rng, 10, 50_000) for _ in range(rng.randint(1, 3))]
    lines = [
        {"account": rng.choice(_ACCOUNTS), "debit": Decimal128(a), "credit": Decimal128(Decimal("0.00"))}
        for a in amounts
    ]
    lines.append(
        {
            "account": rng.choice(_ACCOUNTS),
            "debit": Decimal128(Decimal("0.00")),
            "credit": Decimal128(sum(amounts, Decimal("0.00"))),
        }
    )
    posted = _timestamp(rng, 2024, 2027)
    return {
        "_id": journal_key(index),
        "entry_no": Int64(10**10 + index),
        "posted_at": posted,
        "period": f"{posted.year}-{posted.month:02d}",
        "description": rng.choice(("Invoice posting", "Accrual", "Bank fee — Gebühr", "Payroll")),
        "source_invoice_id": object_id("invoices", rng.randrange(index + 1)) if rng.random() < 0.6 else None,
        "lines": lines,
        "version": version,
    }


_FACTORIES: dict[str, Callable[[random.Random, int, int, int], dict[str, Any]]] = {
    "clients": _client,
    "engagements": _engagement,
    "invoices": _invoice,
    "journal_entries": _journal_entry,
}


def make_document(seed: int, collection: str, index: int, version: int) -> dict[str, Any]:
    """Document ``index`` of ``collection`` as it is at ``version`` (0 = as first inserted)."""
    return _FACTORIES[collection](_rng(seed, collection, index, version), seed, index, version)
