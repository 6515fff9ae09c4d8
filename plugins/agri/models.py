"""The plugin's own tables (Tortoise ORM, ``twinledger_register_model_modules``).

The ledger holds every record's sealed form; these tables index it so a product code's trace is a
few lookups, and keep what the ledger must not hold (disclosures of withheld fields) and what it
cannot enforce (a product code is issued once, ever):

- :class:`ProductCodeRow` — every code ever issued, with a unique constraint on its EPC URI; rows
  are never deleted and a code's lot never changes, so a code can be neither reused nor
  re-assigned, retired or not.
- :class:`RecordRow` — each accepted record: its id (SHA-256 of the sealed form), kind, signer,
  time and the ledger entry that holds it.
- :class:`IdentifierRow` — which identifiers (codes, lots, plantings, pallets) each record
  mentions: the index the trace follows.
- :class:`DisclosureRow` — the withheld fields and salt of a record, checked against its digest.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class ProductCodeRow(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=128, unique=True)  # the SGTIN EPC URI; never deleted, never reused
    gtin = fields.CharField(max_length=14)
    lot = fields.CharField(max_length=128, db_index=True)  # the LGTIN it was issued for, fixed forever
    status = fields.CharField(max_length=16, default="issued")  # issued → packed → retired
    issued_to = fields.CharField(max_length=128)
    issued_us = fields.BigIntField()
    packed_by = fields.CharField(max_length=64, null=True)  # record id of the packing record
    retired_by = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "agri_product_codes"


class RecordRow(Model):
    id = fields.IntField(primary_key=True)
    record_id = fields.CharField(max_length=64, unique=True)
    kind = fields.CharField(max_length=32, db_index=True)
    signer = fields.CharField(max_length=128)
    role = fields.CharField(max_length=32)
    event_time = fields.CharField(max_length=40)
    entry_index = fields.BigIntField(unique=True)
    sealed: Any = fields.JSONField()  # the ledger entry's payload (the sealed record), for assembling traces

    class Meta:
        table = "agri_records"


class IdentifierRow(Model):
    id = fields.IntField(primary_key=True)
    identifier = fields.CharField(max_length=256, db_index=True)
    record_id = fields.CharField(max_length=64, db_index=True)

    class Meta:
        table = "agri_record_identifiers"
        unique_together = (("identifier", "record_id"),)


class DisclosureRow(Model):
    id = fields.IntField(primary_key=True)
    record_id = fields.CharField(max_length=64, unique=True)
    salt = fields.CharField(max_length=128)
    disclosed: Any = fields.JSONField()

    class Meta:
        table = "agri_disclosures"
