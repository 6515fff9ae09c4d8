"""Errors of policies and their enforcement, in Ditto's error shape."""

from __future__ import annotations

from twinledger.errors import TwinError


class PolicyInvalid(TwinError):
    status, error = 400, "policies:policy.invalid"
    default_description = (
        "A policy is {'policyId': ..., 'entries': {label: {'subjects': {subject: {}}, "
        "'resources': {'thing:/path': {'grant': ['READ'], 'revoke': []}}}}}."
    )


class PolicyNotFound(TwinError):
    status, error = 404, "policies:policy.notfound"
    default_description = "Check the policy id, or create the policy first."


class PolicyConflict(TwinError):
    status, error = 409, "policies:policy.conflict"
    default_description = "The policy already exists; change it instead."


class NotAllowed(TwinError):
    """The subject may see the resource but not do what it asked (Ditto answers 403)."""

    status, error = 403, "things:thing.notmodifiable"
    default_description = "Ask the owner of the twin for WRITE permission on this path in its policy."

    def __init__(self, message: str, *, error: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        if error is not None:
            self.error = error
