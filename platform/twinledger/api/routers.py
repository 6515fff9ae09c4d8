"""Routes that plugins add (``twinledger_register_routes``), and how one is made public.

Every router a plugin returns is mounted under ``/api/plugins/<plugin>/`` behind authentication.
A route that must answer anonymous callers (a consumer scanning a product code) is put on a
:class:`PublicRouter`, which cannot be created without saying why it is public; the reason is
logged at start. Including a ``PublicRouter`` into an ordinary ``APIRouter`` does *not* carry the
public mark over (its routes then need authentication): publicness is never inherited by accident.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter


class PublicRouter(APIRouter):
    """An ``APIRouter`` whose routes need no token. ``reason`` says why (logged at start).

    Example::

        router = PublicRouter(reason="consumers trace a product code without an account")

        @router.get("/trace/{code}")
        async def trace(code: str): ...
    """

    def __init__(self, *, reason: str, **kwargs: Any) -> None:
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("A PublicRouter needs a reason: say why these routes need no authentication.")
        super().__init__(**kwargs)
        self.public_reason = reason.strip()
