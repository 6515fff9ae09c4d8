"""The anchor contract: its Vyper source and the compiled ABI and bytecode shipped beside it.

The compiled artifact is shipped (``TreeHeadAnchor.json``) so that deploying and anchoring need
no compiler at run time, and so the bytecode an operator deploys is the one in the repository.
A test recompiles the source and checks the artifact matches it. After changing the source::

    python -m twinledger.ledger.anchoring.contract      # rewrites TreeHeadAnchor.json
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SOURCE = HERE / "TreeHeadAnchor.vy"
ARTIFACT = HERE / "TreeHeadAnchor.json"


def source_sha256() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def compile_source() -> dict[str, Any]:
    """Compile the source with the installed Vyper (a development-time step)."""
    import vyper

    out = vyper.compile_code(SOURCE.read_text(), output_formats=["abi", "bytecode"])
    return {
        "contract": "TreeHeadAnchor",
        "compiler": f"vyper {vyper.__version__}",
        "sourceSha256": source_sha256(),
        "abi": out["abi"],
        "bytecode": out["bytecode"],
    }


@cache
def artifact() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ARTIFACT.read_text())
    return data


def main() -> None:
    ARTIFACT.write_text(json.dumps(compile_source(), indent=2) + "\n")
    print(f"wrote {ARTIFACT}")


if __name__ == "__main__":
    main()
