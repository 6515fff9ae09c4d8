"""Eclipse Ditto's own HTTP client (the Kiota-generated ``ditto-client``) against the platform."""

from __future__ import annotations

import httpx
import pytest
from ditto_client import JWTAuthProvider
from ditto_client.generated.ditto_client import DittoClient
from ditto_client.generated.models.new_thing import NewThing
from ditto_client.generated.models.patch_thing import PatchThing
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.httpx_request_adapter import HttpxRequestAdapter

from twinledger import Platform

# kiota-abstractions warns about its own deprecated classes when ditto-client's generated code imports them
pytestmark = [
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
]


async def test_ditto_client_creates_reads_patches_searches_and_deletes(
    platform: Platform, tokens: dict[str, str]
) -> None:
    assert platform.http is not None
    async with httpx.AsyncClient(timeout=30) as http:
        adapter = HttpxRequestAdapter(JWTAuthProvider(tokens["farmer"]), http_client=http)
        adapter.base_url = platform.http.url
        ditto = DittoClient(adapter)
        things = ditto.api.two.things

        for n in (1, 2):
            await things.by_thing_id(f"org.ditto:car-{n}").put(
                body=NewThing(additional_data={"attributes": {"maker": "ACME", "n": n}, "features": {}})
            )
        thing = await things.by_thing_id("org.ditto:car-1").get()
        assert thing is not None
        assert thing.thing_id == "org.ditto:car-1" and thing.policy_id == "org.ditto:car-1"
        assert thing.attributes is not None and thing.attributes.additional_data == {"maker": "ACME", "n": 1}

        await things.by_thing_id("org.ditto:car-1").patch(
            body=PatchThing(additional_data={"attributes": {"n": 10, "maker": None}})
        )
        patched = await things.by_thing_id("org.ditto:car-1").get()
        assert patched is not None and patched.attributes is not None
        assert patched.attributes.additional_data == {"n": 10}

        search = ditto.api.two.search.things
        config = RequestConfiguration(
            query_parameters=search.ThingsRequestBuilderGetQueryParameters(
                filter='and(eq(attributes/maker,"ACME"),gt(attributes/n,0))', option="sort(-thingId)"
            )
        )
        found = await search.get(request_configuration=config)
        assert found is not None and [t.thing_id for t in found.items or []] == ["org.ditto:car-2"]
        everything = await search.get()
        assert everything is not None and {t.thing_id for t in everything.items or []} == {
            "org.ditto:car-1",
            "org.ditto:car-2",
        }

        await things.by_thing_id("org.ditto:car-1").delete()
        with pytest.raises(APIError) as missing:
            await things.by_thing_id("org.ditto:car-1").get()
        assert missing.value.response_status_code == 404
