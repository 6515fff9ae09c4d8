"""Contracts: named, deterministic Python functions that rules and plugins call by name.

A contract takes a JSON object of inputs and returns JSON (a fee, a settlement, a verdict). It
must not do I/O or read the clock: given the same inputs it gives the same output, so anyone can
replay a call from its recorded inputs and check the output (the ledger records calls through a
listener).

::

    def parking_fee(inputs):
        minutes = (inputs["exit"] - inputs["entry"]) / 60
        return {"fee": round(max(0, minutes - 15) * inputs["rate"], 2)}

    Contract("parking.fee", parking_fee, version="2", description="15 free minutes, then per minute")
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from twinledger.clock import Clock, SystemClock, to_us
from twinledger.errors import ContractError

log = structlog.get_logger("twinledger.contracts")


@dataclass(frozen=True, slots=True)
class Contract:
    """A named deterministic function ``function(inputs: dict) -> JSON``."""

    name: str
    function: Callable[[dict[str, Any]], Any]
    version: str = "1"
    description: str = ""


@dataclass(frozen=True, slots=True)
class ContractCall:
    """One call of a contract, as contract-call listeners receive it (``error`` set if it raised)."""

    contract: str
    version: str
    inputs: dict[str, Any]
    output: Any
    caller: str
    thing_id: str | None
    ts_us: int
    plugin: str | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


ContractListener = Callable[[ContractCall], None]


class ContractRegistry:
    """``platform.contracts``: the contracts plugins registered, callable by name.

    ::

        result = await platform.contracts.call("parking.fee", {"entry": t0, "exit": t1, "rate": 0.05},
                                               caller="plugin:parking", thing_id="city.lot:gate-1")
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self._contracts: dict[str, tuple[str | None, Contract]] = {}
        self._listeners: list[ContractListener] = []

    def add(self, contract: Contract, *, plugin: str | None = None) -> None:
        """Register a contract; raises :class:`ContractError` for a duplicate name or an async function."""
        if not isinstance(contract, Contract):
            raise ContractError(f"Expected a Contract, got {type(contract).__name__}.", contract=repr(contract))
        if not contract.name or contract.name != contract.name.strip():
            raise ContractError("A contract needs a name such as 'parking.fee'.", contract=contract.name)
        if contract.name in self._contracts:
            owner = self._contracts[contract.name][0]
            raise ContractError(
                f"The contract {contract.name!r} is already registered (by {owner or 'code'}); contract names "
                "must be unique: prefix them with the plugin's name.",
                contract=contract.name,
            )
        if inspect.iscoroutinefunction(contract.function) or not callable(contract.function):
            raise ContractError(
                f"The contract {contract.name!r} must be a plain (not async) function: contracts do no I/O.",
                contract=contract.name,
            )
        self._contracts[contract.name] = (plugin, contract)

    def get(self, name: str) -> Contract:
        try:
            return self._contracts[name][1]
        except KeyError:
            known = ", ".join(sorted(self._contracts)) or "none"
            raise ContractError(f"There is no contract {name!r} (known: {known}).", contract=name) from None

    def names(self) -> list[str]:
        return sorted(self._contracts)

    def __contains__(self, name: object) -> bool:
        return name in self._contracts

    def add_listener(self, listener: ContractListener) -> None:
        """Call ``listener(call)`` after every contract call (to record it in a ledger, say)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: ContractListener) -> None:
        self._listeners.remove(listener)

    async def call(
        self, name: str, inputs: Mapping[str, Any], *, caller: str = "code", thing_id: str | None = None
    ) -> Any:
        """Run the contract on a private copy of ``inputs`` and return its (JSON) output.

        Raises :class:`ContractError` if the contract is unknown, raises, or inputs or output are
        not JSON. Every call, failed or not, is announced to the listeners.
        """
        contract = self.get(name)
        plugin = self._contracts[name][0]
        try:
            orjson.dumps(dict(inputs))
        except TypeError as exc:
            raise ContractError(f"The inputs of {name!r} are not JSON: {exc}", contract=name) from exc
        private = copy.deepcopy(dict(inputs))
        error: str | None = None
        output: Any = None
        try:
            output = contract.function(private)
            if inspect.isawaitable(output):
                raise TypeError("the function returned an awaitable; contracts must be plain functions")
            orjson.dumps(output)
        except Exception as exc:
            error = repr(exc)
        call = ContractCall(
            contract=name,
            version=contract.version,
            inputs=dict(inputs),
            output=output if error is None else None,
            caller=caller,
            thing_id=thing_id,
            ts_us=to_us(self.clock.now()),
            plugin=plugin,
            error=error,
        )
        for listener in list(self._listeners):
            try:
                listener(call)
            except Exception:
                log.exception("contract_listener_failed", listener=repr(listener))
        if error is not None:
            log.warning("contract_failed", contract=name, caller=caller, thing_id=thing_id, error=error)
            raise ContractError(f"The contract {name!r} failed: {error}", contract=name)
        return output
