"""The aqua twin types: WoT Thing Models (``*.tm.json``) of farms, farm gateways and ponds."""
