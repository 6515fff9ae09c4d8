"""A simulated OPC UA device server driven by a scenario.

::

    device = OpcUaDevice(Scenario.load("pond.toml"), port=4841)
    await device.start()     # opc.tcp://127.0.0.1:4841/twinledger

The device is an object ``{device}`` in namespace 2 (``urn:twinledger:simulator``) with one
variable per scenario point, node id ``ns=2;s={device}.{key}`` (browse path
``0:Objects/2:{device}/2:{key}``). State points are writable and have a method
``Set_{key}(value)``; a write or a call changes the state, which subscribers see at once (the
confirmation of a command). With ``security="Basic256Sha256"`` the server only offers Sign &
Encrypt and, given ``trusted`` (a folder of client certificates), refuses any other client.

Run as a process (tests start device servers this way)::

    python -m twinledger_adapters.opcua pond.toml --port 4841 [--certificate C --private-key K --trusted DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Literal

from asyncua import ua
from asyncua.common.node import Node
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.server import Server

from twinledger import cancel_tasks
from twinledger.devices.scenario import Scenario

NAMESPACE = "urn:twinledger:simulator"


class OpcUaDevice:
    def __init__(
        self,
        scenario: Scenario,
        *,
        host: str = "127.0.0.1",
        port: int = 4840,
        path: str = "twinledger",
        security: Literal["None", "Basic256Sha256"] = "None",
        certificate: Path | None = None,
        private_key: Path | None = None,
        trusted: Path | None = None,
    ) -> None:
        self.scenario = scenario
        self.name = f"opcua-device:{scenario.device}"
        self.endpoint = f"opc.tcp://{host}:{port}/{path}"
        self.security = security
        self.certificate, self.private_key, self.trusted = certificate, private_key, trusted
        self.variables: dict[str, Node] = {}
        self.types: dict[str, ua.VariantType] = {}
        self.commands: list[dict[str, Any]] = []
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for noisy in ("asyncua",):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"twinledger simulator {self.scenario.device}")
        if self.security == "Basic256Sha256":
            if self.certificate is None or self.private_key is None:
                raise ValueError("a secured simulator needs certificate and private_key")
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
            await server.load_certificate(str(self.certificate))
            await server.load_private_key(str(self.private_key))
            if self.trusted is not None:
                store = TrustStore([self.trusted], [])
                await store.load()
                validator = CertificateValidator(
                    CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store
                )
                server.set_certificate_validator(validator)
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace(NAMESPACE)
        device = self.scenario.device
        obj = await server.nodes.objects.add_object(idx, device)
        for key, value in self.scenario.report().items():
            var = await obj.add_variable(ua.NodeId(ua.String(f"{device}.{key}"), ua.Int16(idx)), f"{idx}:{key}", value)
            self.variables[key] = var
            vtype = self.types[key] = await var.read_data_type_as_variant_type()
            if key in self.scenario.state:
                await var.set_writable()
                await obj.add_method(idx, f"Set_{key}", self._setter(key), [vtype], [])
        await server.start()
        self._server = server
        # writes by clients change the state the scenario reports
        sub = await server.create_subscription(50, self)
        await sub.subscribe_data_change([self.variables[k] for k in self.scenario.state])
        self._task = asyncio.create_task(self._run(), name=self.name)

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        for key, var in self.variables.items():
            if var.nodeid == node.nodeid and key in self.scenario.state and self.scenario.state[key] != val:
                self.commands.append({key: val})
                self.scenario.apply({key: val})

    def _setter(self, key: str) -> Any:
        async def set_value(parent: Any, value: ua.Variant) -> list[ua.Variant]:
            self.commands.append({key: value.Value})
            self.scenario.apply({key: value.Value})
            await self.variables[key].write_value(value.Value, value.VariantType)
            return []

        return set_value

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.scenario.interval)
            await self.tick()

    async def tick(self) -> None:
        """One scenario step: the points' new values are written (subscribers get data changes)."""
        before = dict(self.scenario.current)
        self.scenario.step()
        for key, value in self.scenario.current.items():
            if before.get(key) != value:
                await self.variables[key].write_value(value, self.types[key])

    async def stop(self) -> None:
        await cancel_tasks(self._task)
        self._task = None
        if self._server is not None:
            await self._server.stop()
            self._server = None


async def _main(args: argparse.Namespace) -> None:
    device = OpcUaDevice(
        Scenario.load(args.scenario),
        port=args.port,
        security="Basic256Sha256" if args.certificate else "None",
        certificate=args.certificate,
        private_key=args.private_key,
        trusted=args.trusted,
    )
    await device.start()
    sys.stdout.write(f"READY {device.endpoint}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await device.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="A simulated OPC UA device server driven by a scenario file.")
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--port", type=int, default=4840)
    parser.add_argument("--certificate", type=Path, help="server certificate (DER); enables Basic256Sha256")
    parser.add_argument("--private-key", type=Path, help="server private key (PEM)")
    parser.add_argument("--trusted", type=Path, help="folder of trusted client certificates")
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
