"""An OPC UA device server whose variables change as fast as asked: the source of data changes.

``python -m twinledger.bench.loadgen.opcua_server PORT VARIABLES RATE``

Serves ``opc.tcp://127.0.0.1:PORT/bench`` with ``VARIABLES`` Double variables under
``Objects/Bench`` (node ids ``ns=2;s=bench.v{i}``) and writes ``RATE`` new values per second in
total, round-robin. Prints ``ready`` with the endpoint once it serves and ``result`` with the
number of writes when it is terminated.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import UTC

from asyncua import ua
from asyncua.server.server import Server

from twinledger.bench.loadgen.protocol import emit

NAMESPACE = "urn:twinledger:bench"


async def main(port: int, variables: int, rate: float) -> None:
    server = Server()
    await server.init()
    endpoint = f"opc.tcp://127.0.0.1:{port}/bench"
    server.set_endpoint(endpoint)  # never 0.0.0.0 (asyncua's default)
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    idx = await server.register_namespace(NAMESPACE)
    folder = await server.nodes.objects.add_object(idx, "Bench")
    nodes = [
        await folder.add_variable(f"ns={idx};s=bench.v{i}", f"v{i}", 0.0, varianttype=ua.VariantType.Double)
        for i in range(variables)
    ]
    ids = [n.nodeid for n in nodes]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    writes = 0
    async with server:
        emit("ready", endpoint=endpoint, namespace=NAMESPACE, variables=variables)
        start = time.perf_counter()
        while not stop.is_set():
            due = int((time.perf_counter() - start) * rate)
            now = ua.DateTime.now(UTC)
            while writes < due:
                value = ua.DataValue(
                    ua.Variant(float(writes), ua.VariantType.Double), SourceTimestamp=now, ServerTimestamp=now
                )
                await server.write_attribute_value(ids[writes % variables], value)
                writes += 1
            await asyncio.sleep(0.002)
    emit("result", writes=writes)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
