"""The editor schemas (docs/schemas/*.schema.json): current with the binary, accepting every sample and fixture
file, and rejecting the slips an editor should underline."""
import glob
import json
import subprocess

import jsonschema_rs
import pytest
import yaml

from conftest import BIN, REPO


class Yaml12(yaml.SafeLoader):
    """PyYAML without its YAML 1.1 timestamp resolver: timestamps stay strings, as in the engine."""


Yaml12.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def schema(which):
    return json.loads((REPO / "docs" / "schemas" / f"{which}.schema.json").read_text())


def load(text):
    return yaml.load(text, Loader=Yaml12)


@pytest.mark.parametrize("which", ["policy", "fixtures"])
def test_checked_in_schema_is_what_the_binary_prints(which):
    out = subprocess.run([str(BIN), "schema", which], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == schema(which), f"run: {BIN.name} schema {which} > docs/schemas/{which}.schema.json"


def files(pattern):
    return sorted(glob.glob(str(REPO / pattern), recursive=True))


@pytest.mark.parametrize(
    "path", files("Policies/*.yaml") + files("Tests/Fixtures/warnings/*/*.yaml") + files("Tests/Fixtures/diff/old/*.yaml") + files("Tests/Fixtures/diff/new/*.yaml")
)
def test_policy_files_validate(path):
    if "/tests/" in path:
        pytest.skip("fixture file")
    errors = [str(e) for e in jsonschema_rs.validator_for(schema("policy")).iter_errors(load(open(path).read()))]
    assert errors == []


@pytest.mark.parametrize("path", files("Policies/tests/*.yaml"))
def test_fixture_files_validate(path):
    errors = [str(e) for e in jsonschema_rs.validator_for(schema("fixtures")).iter_errors(load(open(path).read()))]
    assert errors == []


@pytest.mark.parametrize(
    "text, why",
    [
        ("features:\n  sso: { type: bool }\n", "type is an enum"),
        ("features:\n  sso: { type: boolean, defualt: true }\n", "unknown key"),
        ("features:\n  SSO: { type: boolean }\n", "key syntax"),
        ("plans:\n  pro: { grant: { sso: true } }\n", "unknown plan key"),
        ("subscription:\n  trial: { plan: pro, length: 14 days }\n", "duration"),
        ("guards:\n  - { name: g, requires: 'true' }\n", "deny is required"),
        ("guards:\n  - { name: g, requires: 'true', deny: x, applies_to: [api/**] }\n", "route starts with /"),
        ("denials:\n  x: { status: 200 }\n", "status 400-599"),
        ("flags:\n  f: { type: boolean, default: false, rules: [ { value: true } ] }\n", "rule needs when"),
        ("version: 2\n", "version 1"),
        ("feature:\n  sso: { type: boolean }\n", "unknown section"),
    ],
)
def test_policy_schema_rejects(text, why):
    assert not jsonschema_rs.validator_for(schema("policy")).is_valid(load(text)), why


@pytest.mark.parametrize(
    "text, why",
    [
        ("cases:\n  - { account: a, chek: { feature: sso }, expect: { allowed: true } }\n", "unknown case key"),
        ("cases:\n  - { account: { subscripton: { plan: pro } }, check: { feature: sso }, expect: {} }\n", "account key"),
        ("case:\n  - { account: a }\n", "unknown file key"),
        ("cases:\n  - { account: a, checks: [ { check: { feature: sso } } ] }\n", "expect is required"),
    ],
)
def test_fixture_schema_rejects(text, why):
    assert not jsonschema_rs.validator_for(schema("fixtures")).is_valid(load(text)), why


def test_sample_files_point_editors_at_the_schemas():
    # The modeline is the last line, so positions in the files (traces, diagnostics) stay as they were.
    for path in files("Policies/*.yaml"):
        last = open(path).read().rstrip("\n").split("\n")[-1]
        assert last == "# yaml-language-server: $schema=../docs/schemas/policy.schema.json", path
    for path in files("Policies/tests/*.yaml"):
        last = open(path).read().rstrip("\n").split("\n")[-1]
        assert last == "# yaml-language-server: $schema=../../docs/schemas/fixtures.schema.json", path
