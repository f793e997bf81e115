"""The extension bundle pinned in the Functions image carries what the worker's orchestration
needs: the Durable Functions extension and its MSSQL storage provider (deploy/bundle.py; the
images workflow runs the same check on the real bin/extensions.json of the built image)."""

import json
import re

from deploy import bundle
from tests.conftest import REPO

SQL = "Microsoft.DurableTask.SqlServer.AzureFunctions"
DURABLE = "Microsoft.Azure.WebJobs.Extensions.DurableTask"
BINDINGS = ["activitytrigger", "orchestrationtrigger", "entitytrigger", "durableclient"]


def bin_extensions(*entries: dict) -> str:
    """The shape of an extracted bundle's bin/extensions.json: startup types by assembly."""
    return json.dumps({"extensions": list(entries)})


def startup(type_name: str, assembly: str, bindings: list[str]) -> dict:
    return {
        "name": type_name.rsplit(".", 1)[-1],
        "typeName": f"{type_name}, {assembly}, Version=1.0.0.0, Culture=neutral",
        "bindings": bindings,
    }


DURABLE_STARTUP = startup(f"{DURABLE}.DurableTaskWebJobsStartup", DURABLE, BINDINGS)
SQL_STARTUP = startup(
    "DurableTask.SqlServer.AzureFunctions.SqlDurabilityProviderStartup",
    "DurableTask.SqlServer.AzureFunctions",
    [*BINDINGS, "orchestrationclient"],
)


def test_a_bundle_with_durable_and_its_mssql_provider_passes():
    assert bundle.missing_durable_extensions(bin_extensions(DURABLE_STARTUP, SQL_STARTUP)) == []


def test_a_bundle_without_the_mssql_provider_fails():
    assert bundle.missing_durable_extensions(bin_extensions(DURABLE_STARTUP)) == [SQL]


def test_a_provider_that_binds_no_orchestration_trigger_fails():
    partial = startup(
        "DurableTask.SqlServer.AzureFunctions.SqlDurabilityProviderStartup",
        "DurableTask.SqlServer.AzureFunctions",
        ["durableclient"],
    )
    assert bundle.missing_durable_extensions(bin_extensions(DURABLE_STARTUP, partial)) == [SQL]


def test_the_bundle_source_list_by_package_id_is_read_too():
    source = [{"id": DURABLE, "bindings": BINDINGS}, {"id": SQL, "bindings": BINDINGS}]
    assert bundle.missing_durable_extensions(json.dumps(source)) == []
    assert bundle.missing_durable_extensions(json.dumps(source[:1])) == [SQL]


def test_the_workflow_command_reads_the_file_and_fails_on_a_missing_provider(tmp_path, capsys):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(bin_extensions(DURABLE_STARTUP, SQL_STARTUP))
    bad.write_text(bin_extensions(DURABLE_STARTUP))

    assert bundle.main(["--durable-mssql", str(good)]) == 0
    assert bundle.main(["--durable-mssql", str(bad)]) == 1
    assert SQL in capsys.readouterr().err


def test_the_pinned_bundle_is_a_v4_bundle_which_lists_the_mssql_provider():
    """v4 bundles have listed the MSSQL provider since the v4 preview; 4.x is what host.json
    accepts (tests/deploy/test_images.py checks the pin is inside host.json's range)."""
    pinned = re.search(
        r"^ARG EXTENSION_BUNDLE_VERSION=(\S+)$", (REPO / "Dockerfile").read_text(), re.M
    )
    assert pinned is not None
    major = int(pinned.group(1).split(".")[0])
    assert major == 4
    assert bundle.range_contains(bundle.host_range(REPO / "host.json"), pinned.group(1))
