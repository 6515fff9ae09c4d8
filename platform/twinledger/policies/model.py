"""Policies in Eclipse Ditto's shape: who (subjects) may READ or WRITE what (resources).

::

    {"policyId": "org.farm:pond-1",
     "entries": {
       "owner": {"subjects": {"partner:farmer": {"type": "api token"}},
                 "resources": {"thing:/": {"grant": ["READ", "WRITE"], "revoke": []},
                               "policy:/": {"grant": ["READ", "WRITE"], "revoke": []}}},
       "bank":  {"subjects": {"partner:bank-a": {}},
                 "resources": {"thing:/features/oxygen": {"grant": ["READ"], "revoke": []}}}}}

Resources are ``thing:/<path>`` (parts of a twin), ``policy:/<path>`` (the policy itself) and
``message:/<path>`` (partner messages). How a decision is made is in :mod:`.enforcer`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from twinledger.errors import ThingIdInvalid
from twinledger.model.thing_id import check_thing_id
from twinledger.policies.errors import PolicyInvalid

Permission = Literal["READ", "WRITE"]
PERMISSIONS: tuple[Permission, ...] = ("READ", "WRITE")
RESOURCE_TYPES = ("thing", "policy", "message")
OWNER_LABEL = "owner"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the subjects an API token or JWT maps to. ``admin`` (the operator) is not
    subject to policies."""

    subjects: frozenset[str]
    admin: bool = False

    @property
    def name(self) -> str:
        """The first subject, for logs and event sources (``api:<name>``)."""
        return min(self.subjects) if self.subjects else "anonymous"

    @classmethod
    def of(cls, *subjects: str, admin: bool = False) -> Principal:
        return cls(frozenset(subjects), admin)


@dataclass(frozen=True, slots=True)
class ResourceGrant:
    grant: frozenset[str] = frozenset()
    revoke: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, list[str]]:
        return {"grant": sorted(self.grant), "revoke": sorted(self.revoke)}


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    """One labelled entry: these subjects get these grants and revokes on these resources."""

    subjects: Mapping[str, Mapping[str, Any]]
    resources: Mapping[str, ResourceGrant]

    @classmethod
    def of(
        cls,
        subjects: Iterable[str],
        resources: Mapping[str, Iterable[str]],
        *,
        revoke: Mapping[str, Iterable[str]] = {},
    ) -> PolicyEntry:
        """Shorthand: ``PolicyEntry.of(["partner:bank-a"], {"thing:/features/oxygen": ["READ"]})``."""
        keys = set(resources) | set(revoke)
        return cls(
            {s: {} for s in subjects},
            {
                normalize_resource(k): ResourceGrant(frozenset(resources.get(k, ())), frozenset(revoke.get(k, ())))
                for k in keys
            },
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "subjects": {s: dict(v) for s, v in self.subjects.items()},
            "resources": {k: r.to_json() for k, r in self.resources.items()},
        }


@dataclass(frozen=True, slots=True)
class Policy:
    policy_id: str
    entries: Mapping[str, PolicyEntry]
    revision: int = 0
    created_us: int = 0
    modified_us: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def subjects(self) -> set[str]:
        return {s for e in self.entries.values() for s in e.subjects}

    def with_entry(self, label: str, entry: PolicyEntry | None) -> Policy:
        entries = dict(self.entries)
        if entry is None:
            entries.pop(label, None)
        else:
            entries[label] = entry
        return Policy(self.policy_id, entries, self.revision, self.created_us, self.modified_us, self.extra)

    def to_json(self, *, meta: bool = False) -> dict[str, Any]:
        from twinledger.registry.twin import iso

        body: dict[str, Any] = {
            "policyId": self.policy_id,
            "entries": {label: e.to_json() for label, e in self.entries.items()},
        }
        if meta:
            body.update(_revision=self.revision, _created=iso(self.created_us), _modified=iso(self.modified_us))
        return body


def owner_policy(policy_id: str, owners: Iterable[str]) -> Policy:
    """The default policy of a new twin: its owners may READ and WRITE the twin, the policy and
    messages."""
    everything = {f"{t}:/": ("READ", "WRITE") for t in RESOURCE_TYPES}
    return Policy(check_policy_id(policy_id), {OWNER_LABEL: PolicyEntry.of(owners, everything)})


def check_policy_id(policy_id: object) -> str:
    try:
        return check_thing_id(policy_id)  # Ditto: policy ids have the syntax of thing ids
    except ThingIdInvalid:
        raise PolicyInvalid(f"The policy id {str(policy_id)[:80]!r} is not valid: expected 'namespace:name'.") from None


def normalize_resource(key: object) -> str:
    """``thing:/features/x/`` → ``thing:/features/x``; raises :class:`PolicyInvalid`."""
    if not isinstance(key, str) or ":" not in key:
        raise PolicyInvalid(f"The resource {key!r} must look like 'thing:/path', 'policy:/' or 'message:/'.")
    kind, _, path = key.partition(":")
    if kind not in RESOURCE_TYPES:
        raise PolicyInvalid(f"The resource {key!r} has type {kind!r}; use one of {', '.join(RESOURCE_TYPES)}.")
    if not path.startswith("/"):
        raise PolicyInvalid(f"The path of the resource {key!r} must start with '/'.")
    segments = [s for s in path.split("/") if s]
    return f"{kind}:/" + "/".join(segments)


def parse_policy(body: Any, policy_id: str) -> Policy:
    """A policy from Ditto's JSON; ``policy_id`` is the id from the URL (the body may repeat it)."""
    if not isinstance(body, dict):
        raise PolicyInvalid("A policy must be a JSON object with 'entries'.")
    policy_id = check_policy_id(policy_id)
    if body.get("policyId", policy_id) != policy_id:
        raise PolicyInvalid(f"The policyId in the body ({body['policyId']!r}) differs from {policy_id!r}.")
    unknown = [k for k in body if k not in ("policyId", "entries") and not k.startswith("_")]
    if unknown:
        raise PolicyInvalid(f"A policy has no field {unknown[0]!r} (policy imports are not supported).")
    entries = body.get("entries")
    if not isinstance(entries, dict):
        raise PolicyInvalid("'entries' must be a JSON object of labelled entries.")
    return Policy(policy_id, {label: parse_entry(label, e) for label, e in entries.items()})


def parse_entry(label: Any, body: Any) -> PolicyEntry:
    if not isinstance(label, str) or not label or len(label) > 256 or "/" in label:
        raise PolicyInvalid(f"The entry label {label!r} must be a non-empty string without '/'.")
    if not isinstance(body, dict):
        raise PolicyInvalid(f"The entry {label!r} must be a JSON object with 'subjects' and 'resources'.")
    unknown = [k for k in body if k not in ("subjects", "resources", "importable")]
    if unknown:
        raise PolicyInvalid(f"The entry {label!r} has no field {unknown[0]!r}; it has 'subjects' and 'resources'.")
    subjects, resources = body.get("subjects"), body.get("resources")
    if not isinstance(subjects, dict) or not isinstance(resources, dict):
        raise PolicyInvalid(f"The entry {label!r} needs 'subjects' and 'resources' objects.")
    for subject, info in subjects.items():
        if not subject or any(c.isspace() for c in subject) or len(subject) > 256:
            raise PolicyInvalid(f"The subject {subject!r} of entry {label!r} must be a non-empty id without spaces.")
        if not isinstance(info, dict):
            raise PolicyInvalid(f"The subject {subject!r} of entry {label!r} must map to an object (e.g. {{}}).")
    parsed: dict[str, ResourceGrant] = {}
    for key, grant in resources.items():
        if not isinstance(grant, dict) or set(grant) - {"grant", "revoke"}:
            raise PolicyInvalid(f"The resource {key!r} of entry {label!r} must be {{'grant': [...], 'revoke': [...]}}.")
        perms = {}
        for which in ("grant", "revoke"):
            values = grant.get(which, [])
            if not isinstance(values, list) or any(v not in PERMISSIONS for v in values):
                raise PolicyInvalid(f"'{which}' of {key!r} in entry {label!r} must list READ and/or WRITE.")
            perms[which] = frozenset(values)
        parsed[normalize_resource(key)] = ResourceGrant(perms["grant"], perms["revoke"])
    return PolicyEntry({s: dict(i) for s, i in subjects.items()}, parsed)
