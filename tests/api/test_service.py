"""The HTTP service's start: a port it cannot take is a clear error."""

import socket

import pytest

from twinledger import Settings
from twinledger.errors import ConfigError
from twinledger.testing.pytest_plugin import MakePlatform


async def test_a_taken_port_says_so_and_what_to_do(make_platform: MakePlatform, tl_settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        http = tl_settings.http.model_copy(update={"host": "127.0.0.1", "port": port})
        with pytest.raises(ConfigError, match=r"cannot listen on .*\(Address already in use.*--http-port"):
            await make_platform(settings=tl_settings.model_copy(update={"http": http}))
