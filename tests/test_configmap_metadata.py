"""--name, --namespace and --label of generate and run, and the ConfigMap today's dashboard reads.

The dashboard (opendatahub-io/odh-dashboard b9d09633b0eeab9d043faa2dc133a7d2eeb13e17) reads the
ConfigMap named by the NIM Account's `status.nimConfig.name` from its own namespace
(backend/src/routes/api/nim-serving/index.ts; packages/nim-serving/src/api/images/api.ts reads
it from the Account's namespace). The controller names it `{account}-cm`, the Account is
`odh-nim-account`, so `odh-nim-account-cm` (odh-model-controller 57b43aad,
internal/controller/nim/handlers/configmap_handler.go). For each data key it does
`JSON.parse(value)` and keeps the entry only when `namespace` is a string and `tags` an array,
taking name (the key), displayName, shortDescription, namespace, tags, latestTag, updatedDate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult, read_configmap
from tests.fake_ngc import FakeNgc

Run = Callable[..., CliResult]
DASHBOARD_FIELDS = (
    "displayName",
    "shortDescription",
    "namespace",
    "tags",
    "latestTag",
    "updatedDate",
)


def dashboard_images(document: dict[str, Any]) -> list[dict[str, Any]]:
    """fetchNIMImages (packages/nim-serving/src/api/images/api.ts), in Python."""
    images = []
    for key, value in document["data"].items():
        model = json.loads(value)
        if not isinstance(model.get("namespace"), str) or not isinstance(model.get("tags"), list):
            continue
        images.append({"name": key, **{field: model[field] for field in DASHBOARD_FIELDS}})
    return images


def command_inputs(command: str) -> list[str]:
    """Enough for the command to reach its option checks (which come before any input)."""
    return ["CM.yaml", "--registry", "mirror"] if command == "mirror-configmap" else ["--demo"]


def test_generate_writes_the_nim_account_configmap_the_dashboard_reads(
    run_cli: Run, workdir: Path
) -> None:
    output = workdir / "odh-nim-account-cm.yaml"
    result = run_cli(
        "generate",
        "--demo",
        "--name",
        "odh-nim-account-cm",
        "--namespace",
        "opendatahub",
        "--output",
        str(output),
    )
    assert result.code == 0, result.err
    document = read_configmap(output)
    assert document["apiVersion"] == "v1" and document["kind"] == "ConfigMap"
    assert document["metadata"] == {"name": "odh-nim-account-cm", "namespace": "opendatahub"}
    images = dashboard_images(document)
    assert len(images) == len(document["data"]) > 0, "the dashboard drops no entry"
    for image in images:
        assert all(isinstance(image[f], str) for f in DASHBOARD_FIELDS if f != "tags")
        assert image["latestTag"] in image["tags"]
        assert image["name"] == json.loads(document["data"][image["name"]])["name"]
    assert run_cli("validate", str(output)).code == 0

    # A second run replaces its own file: the name it was given is the one it recognises.
    again = run_cli("generate", "--demo", "--name", "odh-nim-account-cm", "--output", str(output))
    assert again.code == 0, again.err
    assert "namespace" not in read_configmap(output)["metadata"]
    shipped = run_cli("generate", "--demo", "--output", str(output))
    assert shipped.code == 2
    assert "it is not a nim-models-data ConfigMap" in shipped.error


def test_run_takes_name_namespace_and_labels(
    run_cli: Run, workdir: Path, fake_ngc: FakeNgc, api_key: str
) -> None:
    output = workdir / "custom.yaml"
    common = ("run", "--api-url", fake_ngc.url, "--eu-restricted", str(workdir / "none.json"))
    (workdir / "none.json").write_text("[]\n", encoding="utf-8")
    result = run_cli(
        *common,
        "--output",
        str(output),
        "--name",
        "nim-models-custom",
        "--namespace",
        "redhat-ods-applications",
        "--label",
        "app.kubernetes.io/part-of=nim",
        "--label",
        "tier=",
        api_key,
    )
    assert result.code == 0, result.err
    metadata = read_configmap(output)["metadata"]
    assert metadata == {
        "name": "nim-models-custom",
        "namespace": "redhat-ods-applications",
        "labels": {"app.kubernetes.io/part-of": "nim", "tier": ""},
    }, "a custom ConfigMap carries no opendatahub.io label"

    shipped = workdir / "shipped.yaml"
    result = run_cli(*common, "--output", str(shipped), "--label", "team=ai", api_key)
    assert result.code == 0, result.err
    assert read_configmap(shipped)["metadata"]["labels"] == {
        "opendatahub.io/managed": "true",
        "team": "ai",
    }
    assert 'team: "ai"' in shipped.read_text(encoding="utf-8"), "label values are quoted"


@pytest.mark.parametrize("command", ["generate", "run", "mirror-configmap"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("novalue", "'novalue' is not KEY=VALUE"),
        ("Bad_Prefix/x=1", "'Bad_Prefix/x' is not a Kubernetes label key: its prefix"),
        ("-x=1", "'-x' is not a Kubernetes label key: its name '-x' is not"),
        (f"{'a' * 64}=1", "is not a Kubernetes label key: its name"),
        ("app=has space", "'has space' is not a Kubernetes label value"),
        (f"app={'v' * 64}", "is not a Kubernetes label value"),
    ],
    ids=["no-equals", "prefix", "name-start", "name-long", "value-space", "value-long"],
)
def test_label_is_checked_as_kubernetes_checks_it(
    run_cli: Run, workdir: Path, command: str, value: str, message: str
) -> None:
    result = run_cli(command, *command_inputs(command), f"--label={value}")
    assert result.code == 2
    assert result.error.startswith("nim-build: error: argument --label: ")
    assert message in result.error
    assert list(workdir.iterdir()) == [], "nothing written"


@pytest.mark.parametrize("command", ["generate", "run", "mirror-configmap"])
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--name", "Nim_Models", "argument --name: 'Nim_Models' is not a Kubernetes object name"),
        ("--namespace", "a.b", "argument --namespace: 'a.b' is not a Kubernetes namespace"),
    ],
)
def test_name_and_namespace_are_checked(
    run_cli: Run, command: str, option: str, value: str, message: str
) -> None:
    result = run_cli(command, *command_inputs(command), option, value)
    assert result.code == 2
    assert message in result.error


def test_one_label_key_twice_is_refused(run_cli: Run, workdir: Path) -> None:
    result = run_cli("generate", "--demo", "--label", "a=x", "--label", "a=y")
    assert result.code == 2
    assert result.error == "nim-build: error: --label a is given twice, as 'x' and 'y'"
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize("command", ["generate", "run", "mirror-configmap"])
def test_a_custom_configmap_takes_no_operator_label(
    run_cli: Run, workdir: Path, command: str
) -> None:
    # The operator's label on a custom ConfigMap would let the operator take it over.
    name = ["--name", "odh-nim-account-cm"] if command != "mirror-configmap" else []
    custom = "odh-nim-account-cm" if name else "nim-models-data-mirror"
    option = "--label=opendatahub.io/managed=true"
    result = run_cli(command, *command_inputs(command), *name, option)
    assert result.code == 2
    assert result.error == (
        "nim-build: error: --label opendatahub.io/managed: opendatahub.io/* labels are the "
        f"operator's; a custom ConfigMap ({custom}) carries none"
    )
    assert list(workdir.iterdir()) == [], "nothing written"


@pytest.mark.parametrize("command", ["generate", "run"])
def test_the_shipped_configmap_keeps_its_managed_label(
    run_cli: Run, workdir: Path, command: str
) -> None:
    # Refused before any request: validate would refuse the result after every request.
    result = run_cli(command, "--demo", "--label=opendatahub.io/managed=false")
    assert result.code == 2
    assert result.error == (
        "nim-build: error: --label opendatahub.io/managed=false: the shipped ConfigMap "
        '(nim-models-data) is the operator\'s and carries opendatahub.io/managed: "true"; give '
        "another --name for a custom one"
    )
    assert list(workdir.iterdir()) == [], "nothing written"


@pytest.mark.parametrize("command", ["generate", "run"])
def test_the_shipped_configmap_may_take_operator_labels(
    run_cli: Run, workdir: Path, command: str
) -> None:
    output = workdir / "cm.yaml"
    option = "--label=opendatahub.io/part-of=nim"
    assert run_cli(command, "--demo", option, "--output", str(output)).code == 0
    assert read_configmap(output)["metadata"]["labels"]["opendatahub.io/part-of"] == "nim"


def test_validate_accepts_any_configmap_name_and_checks_labels(run_cli: Run, workdir: Path) -> None:
    output = workdir / "cm.yaml"
    assert run_cli("generate", "--demo", "--name", "a.b-c", "--output", str(output)).code == 0
    assert run_cli("validate", str(output)).code == 0, "any DNS subdomain, no labels needed"

    text = output.read_text(encoding="utf-8")
    bad_label = text.replace("  name: a.b-c\n", "  name: a.b-c\n  labels:\n    'x y': z\n")
    output.write_text(bad_label, encoding="utf-8")
    result = run_cli("validate", str(output))
    assert result.code == 1
    assert "labels" in result.err

    shipped = text.replace("  name: a.b-c\n", "  name: nim-models-data\n")
    output.write_text(shipped, encoding="utf-8")
    result = run_cli("validate", str(output))
    assert result.code == 1, "the shipped ConfigMap must carry the managed label"
    assert "$.metadata: missing required field labels" in result.err
