"""An OPC UA server for the benchmark that changes many variables as fast as it can.

``python -m twinledger.bench.opcua_server PORT ITEMS`` serves ``opc.tcp://127.0.0.1:PORT/bench``
with ITEMS Double variables ``ns=2;s=bench.v{i}`` and writes them round robin (values 0..14.5),
printing ``READY`` once it serves and, at exit (SIGTERM), the number of writes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from asyncua import ua
from asyncua.server.server import Server


async def main(port: int, items: int) -> None:
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    idx = await server.register_namespace("urn:twinledger:bench")
    obj = await server.nodes.objects.add_object(idx, "bench")
    ids = []
    for i in range(items):
        var = await obj.add_variable(ua.NodeId(ua.String(f"bench.v{i}"), ua.Int16(idx)), f"{idx}:v{i}", 0.5)
        ids.append(var.nodeid)
    await server.start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    writes = 0
    while not stop.is_set():
        for nodeid in ids:
            value = float(writes % 15) + 0.5
            await server.write_attribute_value(nodeid, ua.DataValue(ua.Variant(value, ua.VariantType.Double)))
            writes += 1
        await asyncio.sleep(0)
    await server.stop()
    sys.stdout.write(f"{writes}\n")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
