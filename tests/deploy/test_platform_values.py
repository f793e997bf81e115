"""`make values ENV=<env>` also writes the per-cluster add-on values (deploy/platform_values.py):
image registries through the ACR cache and the add-ons' identities, from `terraform output -json`;
tested on the recorded output of infra/terraform/envs/dev."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy import platform_values as generator
from tests.deploy import render

FIXTURE = Path(__file__).with_name("fixtures") / "terraform-output.dev.json"


@pytest.fixture(scope="module")
def outputs() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _run(outputs: dict, dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.platform_values", "--env", "dev", "--dest", str(dest)],
        input=json.dumps(outputs),
        capture_output=True,
        text=True,
        cwd=render.REPO,
        check=False,
    )


def test_identities_key_vault_and_tenant_come_from_terraform(outputs, tmp_path):
    assert _run(outputs, tmp_path).returncode == 0
    platform = tmp_path / "dev" / "platform"
    keda = yaml.safe_load((platform / "keda.values.yaml").read_text())
    cloudflared = yaml.safe_load((platform / "cloudflared.values.yaml").read_text())
    value = {name: entry["value"] for name, entry in outputs.items()}
    assert keda["podIdentity"]["azureWorkload"] == {
        "clientId": value["keda_identity_client_id"],
        "tenantId": value["tenant_id"],
    }
    assert cloudflared["keyVault"] == {
        "name": value["key_vault_name"],
        "tenantId": value["tenant_id"],
    }
    assert cloudflared["identity"] == {"clientId": value["cloudflared_identity_client_id"]}
    assert cloudflared["image"]["repository"] == (
        f"{value['acr_login_server']}/cache/cloudflare/cloudflared"
    )


def test_one_file_per_addon_with_the_generated_header(outputs, tmp_path):
    assert _run(outputs, tmp_path).returncode == 0
    written = sorted(p.name for p in (tmp_path / "dev" / "platform").iterdir())
    assert written == sorted(f"{addon}.values.yaml" for addon in generator.ADDON_IMAGES)
    for path in (tmp_path / "dev" / "platform").iterdir():
        assert path.read_text().startswith(generator.HEADER.format(env="dev"))


@pytest.mark.parametrize(
    ("output", "value", "complaint"),
    [
        ("acr_login_server", "", "'acr_login_server' is missing"),
        ("keda_identity_client_id", "", "'keda_identity_client_id' is missing"),
        ("key_vault_name", None, "'key_vault_name' is missing"),
        # A cache rule removed from Terraform: the image it served has nowhere to come from.
        (
            "acr_cache_repositories",
            {"argocd": "cache/argoproj/*", "redis": "cache/library/redis"},
            "no acr_cache_rules target produces 'cache/kedacore/keda'",
        ),
    ],
)
def test_missing_outputs_or_cache_rules_stop_the_generator(
    outputs, tmp_path, output, value, complaint
):
    broken = json.loads(json.dumps(outputs))
    broken[output]["value"] = value
    result = _run(broken, tmp_path)
    assert result.returncode == 1
    assert complaint in result.stderr
    assert not (tmp_path / "dev").exists()


def test_a_wildcard_rule_serves_only_its_own_prefix():
    targets = {"kedacore": "cache/kedacore/*", "redis": "cache/library/redis"}
    assert generator.served_by("cache/kedacore/keda", targets) == "kedacore"
    assert generator.served_by("cache/library/redis", targets) == "redis"
    assert generator.served_by("cache/library/redis-extra", targets) is None
    assert generator.served_by("cache/kedacorex/keda", targets) is None


def test_the_committed_platform_files_are_what_the_generator_writes(outputs):
    """environments/dev/platform/ is generated from the recorded outputs (a generator change
    without regenerating, or a hand edit, fails here)."""
    for name, content in generator.render(outputs, "dev").items():
        committed = render.ENVIRONMENTS / "dev" / "platform" / name
        assert committed.read_text(encoding="utf-8") == content, name


def test_make_values_writes_the_platform_files(outputs, tmp_path):
    """The real Make target, with a stand-in `terraform` that prints the recorded output."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "terraform"
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$*" = "-chdir=infra/terraform/envs/dev output -json" ] || exit 3\n'
        f"cat {FIXTURE}\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    dest = tmp_path / "environments"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["make", "-s", "values", "ENV=dev", f"VALUES_DEST={dest}", f"PYTHON={sys.executable}"],
        cwd=render.REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name, content in generator.render(outputs, "dev").items():
        assert (dest / "dev" / "platform" / name).read_text(encoding="utf-8") == content
