"""Policy decisions: most specific path wins, revoke beats grant, field filtering."""

import pytest

from twinledger.policies import MISSING, CompiledPolicy, PolicyInvalid, parse_policy

DOC = {
    "thingId": "org.farm:pond-1",
    "policyId": "org.farm:pond-1",
    "attributes": {"site": "north", "owner": {"name": "Ana", "iban": "DE00"}},
    "features": {
        "oxygen": {"properties": {"value": 6.2, "unit": "mg/L"}},
        "finance": {"properties": {"loan": 1000}},
    },
}

POLICY = {
    "entries": {
        "owner": {
            "subjects": {"partner:farmer": {}},
            "resources": {
                "thing:/": {"grant": ["READ", "WRITE"], "revoke": []},
                "policy:/": {"grant": ["READ", "WRITE"]},
            },
        },
        "bank": {
            "subjects": {"partner:bank": {"type": "api token"}},
            "resources": {
                "thing:/": {"grant": ["READ"], "revoke": []},
                "thing:/attributes/owner": {"grant": [], "revoke": ["READ"]},
                "thing:/attributes/owner/name": {"grant": ["READ"], "revoke": []},
                "thing:/features/finance": {"grant": ["READ", "WRITE"], "revoke": []},
            },
        },
        "auditor": {
            "subjects": {"partner:auditor": {}},
            "resources": {"thing:/features/oxygen/properties/value": {"grant": ["READ"], "revoke": []}},
        },
        "contradiction": {
            "subjects": {"partner:bank": {}},
            "resources": {"thing:/features/finance/properties": {"grant": ["WRITE"], "revoke": ["WRITE"]}},
        },
    }
}


@pytest.fixture
def compiled() -> CompiledPolicy:
    return CompiledPolicy(parse_policy(POLICY, "org.farm:pond-1"))


def test_owner_reads_everything(compiled: CompiledPolicy) -> None:
    view = compiled.view({"partner:farmer"})
    assert view.filter_thing(DOC) == DOC
    assert view.allows_all("thing", (), "WRITE")
    assert view.allows("policy", ("entries", "bank"), "WRITE")


def test_deeper_grant_beats_revoke_above_and_revoke_cuts_fields(compiled: CompiledPolicy) -> None:
    view = compiled.view({"partner:bank"})
    seen = view.filter_thing(DOC)
    assert seen is not None
    assert seen["attributes"] == {"site": "north", "owner": {"name": "Ana"}}
    assert seen["features"] == DOC["features"]
    assert not view.allows("thing", ("attributes", "owner", "iban"), "READ")
    assert view.allows("thing", ("attributes", "owner", "name", "first"), "READ")


def test_revoke_beats_grant_at_the_same_level(compiled: CompiledPolicy) -> None:
    view = compiled.view({"partner:bank"})
    assert view.allows("thing", ("features", "finance"), "WRITE")
    assert not view.allows("thing", ("features", "finance", "properties", "loan"), "WRITE")
    assert not view.allows_all("thing", ("features", "finance"), "WRITE")
    assert not view.allows("thing", ("attributes",), "WRITE")


def test_partial_reader_sees_only_its_leaf_and_the_thing_id(compiled: CompiledPolicy) -> None:
    view = compiled.view({"partner:auditor"})
    assert view.filter_thing(DOC) == {
        "thingId": "org.farm:pond-1",
        "features": {"oxygen": {"properties": {"value": 6.2}}},
    }
    assert view.allows_any("thing", (), "READ") and not view.allows("thing", (), "READ")
    assert view.filter("thing", ("features", "oxygen"), {"properties": {"value": 7, "unit": "x"}}) == {
        "properties": {"value": 7}
    }
    assert view.filter("thing", ("attributes", "site"), "south") is MISSING


def test_unknown_subject_sees_nothing(compiled: CompiledPolicy) -> None:
    view = compiled.view({"partner:stranger"})
    assert view.filter_thing(DOC) is None
    assert not view.allows_any("thing", (), "READ")


def test_subjects_of_several_entries_combine(compiled: CompiledPolicy) -> None:
    view = compiled.view({"partner:auditor", "partner:bank"})
    assert view.filter_thing(DOC)["features"]["oxygen"] == DOC["features"]["oxygen"]  # type: ignore[index]


PATHS = [
    ("attributes",),
    ("attributes", "site"),
    ("attributes", "owner"),
    ("attributes", "owner", "name"),
    ("attributes", "owner", "iban"),
    ("features",),
    ("features", "oxygen"),
    ("features", "oxygen", "properties", "value"),
    ("features", "finance", "properties", "loan"),
    ("definition",),
]
VALUES = [3, "s", None, [1, 2], {}, {"name": "n", "iban": "i", "value": 2, "properties": {"value": 1, "unit": "u"}}]


def _doc_with(path: tuple[str, ...], value: object) -> dict[str, object]:
    doc: dict[str, object] = {"thingId": "org.farm:pond-1", "attributes": {"other": 1}}
    node = doc
    for seg in path[:-1]:
        node = node.setdefault(seg, {})  # type: ignore[assignment]
    node[path[-1]] = value
    return doc


def _at(path: tuple[str, ...], doc: object) -> object:
    for seg in path:
        if not isinstance(doc, dict) or seg not in doc:
            return MISSING
        doc = doc[seg]
    return doc


@pytest.mark.parametrize("subjects", [{"partner:farmer"}, {"partner:bank"}, {"partner:auditor"}, {"partner:x"}])
def test_reveals_whole_agrees_with_the_filter(compiled: CompiledPolicy, subjects: set[str]) -> None:
    """What search sorts on: a value at a path shown whole (True) or never (False) under a
    policy, whatever the value; None where an entry below the path cuts objects there."""
    view = compiled.view(subjects)
    for path in PATHS:
        whole = view.reveals_whole("thing", path)
        for value in VALUES:
            seen = _at(path, view.filter_thing(_doc_with(path, value)) or {})
            if whole is not None:
                assert seen == (value if whole else MISSING), (subjects, path, value)


def test_reveals_whole_is_undecided_only_where_entries_below_cut(compiled: CompiledPolicy) -> None:
    bank, auditor = compiled.view({"partner:bank"}), compiled.view({"partner:auditor"})
    assert bank.reveals_whole("thing", ("attributes", "site")) is True
    assert bank.reveals_whole("thing", ("features",)) is True  # only WRITE is revoked below
    assert bank.reveals_whole("thing", ("attributes", "owner", "iban")) is False
    assert bank.reveals_whole("thing", ("attributes", "owner")) is None  # its name stays, its iban goes
    assert auditor.reveals_whole("thing", ("features", "oxygen", "properties", "value", "x")) is True
    assert auditor.reveals_whole("thing", ("features", "finance")) is False
    assert auditor.reveals_whole("thing", ("features", "oxygen")) is None


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"entries": []},
        {"entries": {"x": {"subjects": {}, "resources": {"thing/": {"grant": ["READ"]}}}}},
        {"entries": {"x": {"subjects": {}, "resources": {"car:/": {"grant": ["READ"]}}}}},
        {"entries": {"x": {"subjects": {}, "resources": {"thing:/": {"grant": ["EXECUTE"]}}}}},
        {"entries": {"x": {"subjects": {"a b": {}}, "resources": {}}}},
        {"entries": {"x": {"subjects": {}, "resources": {}, "extra": 1}}},
        {"entries": {}, "imports": {}},
        {"policyId": "other:id", "entries": {}},
    ],
)
def test_malformed_policies_are_refused(body: object) -> None:
    with pytest.raises(PolicyInvalid):
        parse_policy(body, "org.farm:pond-1")
