"""A platform process for the crash and shared-subscription tests (not a test module).

``python platform_process.py DATA_DIR PORT CLIENT_ID GROUP DEVICES`` starts a platform with the
MQTT adapter on the broker at 127.0.0.1:PORT (shared group GROUP unless it is "-"), devices
``load:dev-0`` ... with twins of the same ids, prints ``READY`` once subscribed, runs until killed.
"""

import asyncio
import sys
from pathlib import Path

import twinledger_adapters.mqtt as mqtt_plugin
from twinledger import Signal
from twinledger.config import MqttBrokerSettings
from twinledger.logs import configure_logging
from twinledger_adapters.testing import POND, pond_device, running_platform


async def main(data_dir: str, port: int, client_id: str, group: str, count: int) -> None:
    configure_logging("WARNING")
    devices = [pond_device(f"load:dev-{i}", f"load:dev-{i}") for i in range(count)]
    settings = MqttBrokerSettings(
        host="127.0.0.1", port=port, client_id=client_id, shared_group=None if group == "-" else group
    )
    async with running_platform(Path(data_dir), [mqtt_plugin], devices, mqtt=settings) as platform:
        doc = {"definition": POND, "features": {"oxygen": {"properties": {"value": 1.0, "seq": 0}}}}
        await platform.registry.apply_many(
            [Signal(d.id, "/", doc, op="put", if_none_match=True, keep_rejected=False) for d in devices]
        )
        (adapter,) = [a for _, a in platform.adapters]
        await adapter.wait_connected(20)
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])))
