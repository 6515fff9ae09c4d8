"""The demo's storyline after the night-time dip: the farmer consents, a bank evaluates.

Runs in ``twinledger demo`` next to the farm gateways (a simulator service). Once the first
low-oxygen incident of the first farm is in the ledger (or after ``patience_s``):

1. the farmer grants ``partner:bank-demo`` read access (policy change + ledger entry), the
   consent signed on the farmer's side with a key pair that exists only here (the platform gets
   the public key, as for a farmer's app);
2. the bank, whose key pair exists only here (the platform holds its public key), obtains the
   credit report through the portal, checks its evidence offline against the log key, and
3. records its evaluation signed with its own key: a loan sized by the report's figures.

Each step is a log line (``aqua_demo_*``), and the pages show the result.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from twinledger.ledger import signed_entry

from .evidence import verify_evidence
from .ledger import CONSENT_GRANT, EVALUATION, INCIDENT
from .portal import grant_record, grant_signed, issue_report, record_evaluation
from .records import Evaluation

if TYPE_CHECKING:
    from twinledger import Platform

    from .config import FarmConfig
    from .credit import CreditReport

log = structlog.get_logger("twinledger.aqua")

__all__ = ["DemoStory", "decide"]

BANK = "partner:bank-demo"


def decide(report: CreditReport) -> tuple[str, int | None, str | None]:
    """The demo bank's policy: (decision, amount in cents, reason) from the report's figures."""
    completeness = report.figure("completeness.overall").value
    handled = report.figure("incidents.handled_share").value
    if completeness is None or completeness < 0.5:
        return "refused", None, f"data completeness {completeness} is below 50 %"
    if handled is not None and float(handled) < 0.8:
        return "refused", None, f"only {float(handled):.0%} of low-oxygen incidents were handled in time"
    return "approved", round(20_000_00 + 30_000_00 * float(completeness)), None


class DemoStory:
    def __init__(self, platform: Platform, farm: FarmConfig, *, patience_s: float = 120.0) -> None:
        self.platform, self.farm, self.patience_s = platform, farm, patience_s
        self.name = "aqua.demo-story"
        self.key = Ed25519PrivateKey.generate()  # the bank's own key: never given to the platform
        self.farmer_key = Ed25519PrivateKey.generate()  # the farmer's own key, likewise
        self.done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        try:
            await self._story()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the demo goes on without its storyline
            log.error("aqua_demo_failed", error=repr(exc))

    async def _first_incident(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.patience_s
        while loop.time() < deadline:
            for pond in self.farm.ponds:
                found = await self.platform.ledger.find(kind=INCIDENT, thing_id=pond.id, limit=1)
                if found:
                    log.info("aqua_demo_dip_handled", pond=pond.id, outcome=found[0].payload.get("outcome"))
                    return
            await asyncio.sleep(1.0)
        log.info("aqua_demo_no_incident_yet", farm=self.farm.id, waited_s=self.patience_s)

    async def _story(self) -> None:
        platform, farm = self.platform, self.farm
        ledger = platform.ledger
        if await ledger.find(kind=EVALUATION, thing_id=farm.id, signer=BANK, limit=1):
            self.done.set()
            return  # a previous demo run told the story already
        await self._first_incident()
        # the farmer signs the consent on their side: only the public key reaches the platform
        await ledger.add_public_key(farm.farmer, self.farmer_key.public_key())
        record = grant_record(farm, grantee=BANK, role="bank", at=platform.clock.now())
        request = signed_entry(
            self.farmer_key,
            signer=farm.farmer,
            kind=CONSENT_GRANT,
            payload=record.model_dump(mode="json"),
            ref=record.id,
            twin={"thingId": farm.id},
        )
        consent = await grant_signed(platform, farm, body=request["body"], signature=request["signature"])
        log.info("aqua_demo_consent_granted", farm=farm.id, grantee=BANK, entry=consent.index, signed_by="farmer")
        if ledger.participants.get(BANK) is None:
            await ledger.register_participant(BANK, "bank", "Demo bank")
        await ledger.add_public_key(BANK, self.key.public_key())
        response = await issue_report(platform, farm)
        checked = verify_evidence(response, await ledger.log_verifier())
        report = checked.report
        log.info(
            "aqua_demo_credit_report",
            farm=farm.id,
            entry=response["entry"],
            cited=len(response["evidence"]["items"]),
            verified=not checked.problems,
            completeness=report.figure("completeness.overall").value,
            incidents=report.figure("incidents.count").value,
        )
        decision, amount, reason = decide(report)
        evaluation = Evaluation(
            id=f"evaluation/{BANK}/{report.id}",
            farm=farm.id,
            institution=BANK,
            product="loan",
            report_id=report.id,
            report_digest=report.digest(),
            decision=decision,
            amount_minor=amount,
            currency="USD" if amount is not None else None,
            term_months=24 if amount is not None else None,
            reason=reason,
            evaluated_at=platform.clock.now(),
        )
        request = signed_entry(
            self.key,
            signer=BANK,
            kind=EVALUATION,
            payload=evaluation.model_dump(mode="json"),
            ref=evaluation.id,
            twin={"thingId": farm.id},
        )
        _, entry = await record_evaluation(
            platform, farm, caller=frozenset({BANK}), body=request["body"], signature=request["signature"]
        )
        log.info(
            "aqua_demo_evaluation", farm=farm.id, bank=BANK, decision=decision, amount_minor=amount, entry=entry.index
        )
        self.done.set()
