"""``python -m twinledger_adapters.opcua SCENARIO --port N``: run a simulated device server."""

from twinledger_adapters.opcua.simulator import main

main()
