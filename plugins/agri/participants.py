"""Participants from the settings (``[[plugin.agri.participants]]``), registered in the ledger at start.

A participant's id is the subject of its API token; its role (farm, testing_agency,
logistics_provider, seller) decides which record kinds it writes; its public key is the one the
ledger checks its records' signatures against (the private key never leaves the participant).
"""

from __future__ import annotations

from twinledger import Platform

from .config import AgriSettings


async def register_participants(platform: Platform, settings: AgriSettings) -> None:
    ledger = platform.ledger
    for p in settings.participants:
        await ledger.register_participant(p.id, p.role, p.name)
        if p.public_key:
            await ledger.add_public_key(p.id, p.public_key)
