"""The core's twin types: WoT Thing Models shipped with the platform (``*.tm.json`` here)."""

from pathlib import Path

MODELS_DIR = Path(__file__).parent
