"""GitHub Actions (.github/workflows): linted, pinned, least privilege, and tied to the chart.

actionlint (with shellcheck for every `run:` script) and zizmor (auditor persona) run on the
real files; each check also runs on a broken copy to prove it can fail.
"""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitops.workflow_model import (
    REPO_ROOT,
    WORKFLOWS_DIR,
    ExpressionError,
    ImageBuild,
    cancels_in_progress,
    concurrency_groups,
    evaluate,
    event_context,
    image_builds,
    job_runs,
    load_workflow,
    run_actionlint,
    run_zizmor,
    unpinned_uses,
    workflow_files,
)
from tests.support import checkov

WORKFLOWS = {p.stem: p for p in workflow_files()}
# CONTRACT: the chart deploys these two images, built with the repo root as context.
CONTRACT_BUILDS = {
    ImageBuild("Dockerfile", ".", "tinyshop/functions"),
    ImageBuild("ui/Dockerfile", ".", "tinyshop/ui"),
}


def _workflow(name: str) -> dict[str, Any]:
    return load_workflow(WORKFLOWS[name])


def test_the_four_pipelines_exist() -> None:
    assert set(WORKFLOWS) == {"ci", "images", "promote", "terraform"}


# -------------------------------------------------------------- linters ----


def test_actionlint_with_shellcheck_is_clean() -> None:
    assert shutil.which("shellcheck"), (
        "shellcheck missing: actionlint would skip every run: script "
        "(bash tools/apt_install.sh shellcheck shellcheck)"
    )
    result = run_actionlint(list(WORKFLOWS.values()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_reports_a_shell_bug_and_a_bad_expression(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\npermissions: {}\njobs:\n  j:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo $UNQUOTED_PATH/*\n"
        "      - run: echo '${{ github.event.nope.nope2 }}'\n"
        "        if: ${{ matrix.missing }}\n"
    )
    result = run_actionlint([broken], cwd=tmp_path)
    assert result.returncode != 0
    assert "shellcheck" in result.stdout
    assert "matrix" in result.stdout


def test_zizmor_auditor_persona_is_clean() -> None:
    result = run_zizmor(list(WORKFLOWS.values()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_catches_template_injection(tmp_path: Path) -> None:
    safe = '--env "$TARGET_ENV" --sha "$SHA"'
    text = WORKFLOWS["promote"].read_text(encoding="utf-8")
    assert safe in text
    text = text.replace(safe, '--env ${{ inputs.environment }} --sha "$SHA"')
    assert "${{ inputs.environment }} --sha" in text
    mutated = tmp_path / "promote.yml"
    mutated.write_text(text)
    result = run_zizmor([mutated])
    assert result.returncode != 0
    assert "template-injection" in result.stdout + result.stderr


def test_every_suppression_names_the_audit_and_a_reason() -> None:
    count = 0
    for path in WORKFLOWS.values():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "zizmor: ignore" in line:
                count += 1
                assert re.search(r"# zizmor: ignore\[[a-z-]+\] \S.{15,}$", line), line
    assert count >= 1


# ------------------------------------------------------------- pinning ----


def test_every_action_is_pinned_to_a_commit_sha_with_its_version() -> None:
    uses = 0
    for name, path in WORKFLOWS.items():
        text = path.read_text(encoding="utf-8")
        uses += text.count("uses:")
        assert unpinned_uses(text) == [], name
    assert uses >= 15


@pytest.mark.parametrize(
    "line",
    [
        "      - uses: actions/checkout@v5",
        "      - uses: actions/checkout@main",
        "      - uses: actions/checkout@08c6903c # v5.0.0",
        "      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8",
        "        uses: docker://alpine:3.20",
    ],
)
def test_pin_check_rejects_tags_branches_short_shas_and_missing_versions(line: str) -> None:
    assert len(unpinned_uses(f"steps:\n{line}\n")) == 1


def test_pin_check_accepts_a_pinned_action_and_a_local_workflow() -> None:
    text = (
        "      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n"
        "    uses: ./.github/workflows/promote.yml\n"
    )
    assert unpinned_uses(text) == []


# ------------------------------------------------------ least privilege ----


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_permissions_are_per_job_and_runs_are_serialised(name: str) -> None:
    workflow = _workflow(name)
    assert workflow["permissions"] == {}, "nothing granted at workflow level"
    assert workflow["concurrency"]["group"]
    for job_name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{name}.{job_name} must declare its permissions"
        granted = job["permissions"]
        assert granted != "write-all"
        assert "write-all" not in str(granted)
        if "id-token" in granted:
            assert any("azure/login" in str(s.get("uses")) for s in job.get("steps", [])) or (
                "terraform" in name
            ), f"{name}.{job_name}: id-token only where Azure is logged into"


def _run_scripts() -> list[tuple[str, str]]:
    scripts = []
    for name in WORKFLOWS:
        for job in _workflow(name)["jobs"].values():
            for step in job.get("steps", []):
                if "run" in step:
                    scripts.append((name, step["run"]))
    return scripts


def test_no_secret_or_untrusted_input_is_expanded_inside_a_script() -> None:
    """Secrets and inputs reach scripts only as environment variables (never `${{ }}` text)."""
    scripts = _run_scripts()
    assert len(scripts) >= 8
    for name, script in scripts:
        expressions = re.findall(r"\$\{\{(.*?)\}\}", script)
        assert expressions == [], (name, expressions)
        assert not re.search(r"echo\s+.*\$(CLOUDFLARE|ARM_|AZURE)", script), name


def test_checkouts_do_not_keep_credentials_unless_they_push() -> None:
    for name in WORKFLOWS:
        for job_name, job in _workflow(name)["jobs"].items():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    persist = step.get("with", {}).get("persist-credentials")
                    pushes = "git push" in "\n".join(s.get("run", "") for s in job["steps"])
                    assert persist is pushes, f"{name}.{job_name}"


# -------------------------------------------------------------------- ci ----


def test_ci_runs_make_test_exactly_like_the_ci_script() -> None:
    ci = _workflow("ci")
    assert set(ci["on"]) == {"pull_request", "push"}
    job = ci["jobs"]["test"]
    assert job["strategy"]["matrix"]["python"] == ["3.11", "3.12"]
    runs = [s["run"].strip() for s in job["steps"] if "run" in s]
    assert runs == [".ci/run"]
    assert (REPO_ROOT / ".ci/run").read_text(encoding="utf-8").rstrip().endswith("make test")


def test_ci_caches_pip_npm_and_the_checkov_venv_where_tests_put_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cached = {
        s["with"]["path"]
        for s in _workflow("ci")["jobs"]["test"]["steps"]
        if str(s.get("uses", "")).startswith("actions/cache@")
    }
    assert cached == {"~/.cache/pip", "~/.npm", "~/.cache/tinyshop"}
    # ...and the checkov venv really lives under the cached folder (CI sets no XDG_CACHE_HOME).
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert checkov._venv_dir().parent == Path.home() / ".cache" / "tinyshop"


# --------------------------------------------------------------- images ----


def _chart_repositories() -> set[str]:
    values = yaml.safe_load((REPO_ROOT / "charts/tinyshop/values.yaml").read_text())
    return {values["images"][name]["repository"] for name in ("functions", "ui")}


def test_images_builds_exactly_the_dockerfiles_and_repositories_the_chart_deploys() -> None:
    builds = set(image_builds(_workflow("images")))
    assert builds == CONTRACT_BUILDS
    assert {b.repository for b in builds} == _chart_repositories()
    for build in builds:
        assert (REPO_ROOT / build.dockerfile).is_file(), build.dockerfile


def test_build_cross_check_notices_a_wrong_dockerfile_or_repository() -> None:
    text = WORKFLOWS["images"].read_text(encoding="utf-8")
    for old, new in (
        ("dockerfile: ui/Dockerfile", "dockerfile: ui/Dockerfile.dev"),
        ("IMAGE: tinyshop/${{ matrix.image }}", "IMAGE: shop/${{ matrix.image }}"),
        ("context: .\n", "context: ui\n"),
    ):
        assert old in text
        mutated = yaml.safe_load(text.replace(old, new))
        assert set(image_builds(mutated)) != CONTRACT_BUILDS, new


def test_images_are_scanned_attested_cached_and_tagged_by_commit() -> None:
    job = _workflow("images")["jobs"]["build"]
    steps = job["steps"]
    uses = [str(s.get("uses", "")).split("@")[0] for s in steps]
    scan = uses.index("anchore/scan-action")
    login = uses.index("azure/login")
    push = max(i for i, s in enumerate(steps) if s.get("with", {}).get("push") is True)
    assert scan < login < push, "scan before anything can be pushed"
    scan_with = steps[scan]["with"]
    assert scan_with["fail-build"] is True
    assert scan_with["severity-cutoff"] == "critical"
    assert scan_with["only-fixed"] is True
    pushed = steps[push]["with"]
    assert pushed["provenance"] == "mode=max"
    assert pushed["sbom"] is True
    assert pushed["tags"].endswith(":${{ github.sha }}")
    assert "type=gha" in pushed["cache-from"]
    assert "latest" not in WORKFLOWS["images"].read_text(encoding="utf-8")


# -------------------------------------------------------------- promote ----


def test_dev_is_promoted_automatically_and_later_environments_wait_for_approval() -> None:
    images = _workflow("images")
    call = images["jobs"]["promote-dev"]
    assert call["uses"] == "./.github/workflows/promote.yml"
    assert call["with"] == {"environment": "dev", "sha": "${{ github.sha }}"}
    assert call["needs"] == "build"
    promote = _workflow("promote")
    assert set(promote["on"]) == {"workflow_call", "workflow_dispatch"}
    job = promote["jobs"]["promote"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["permissions"] == {"contents": "write"}
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert ".github/scripts/set_image_tags.py" in script
    assert "environments/$TARGET_ENV/images.yaml" in script


def test_promote_commits_do_not_rebuild_images() -> None:
    ignored = _workflow("images")["on"]["push"]["paths-ignore"]
    assert "environments/**" in ignored


# ------------------------------------------------------------ terraform ----


def test_terraform_plans_pull_requests_and_applies_main_behind_approval() -> None:
    tf = _workflow("terraform")
    jobs = tf["jobs"]
    plan, apply = jobs["plan"], jobs["apply"]
    assert "pull_request" in plan["if"]
    assert "environment" not in plan
    assert "refs/heads/main" in apply["if"]
    assert apply["environment"] == "infrastructure"
    plan_runs = " ".join(s.get("run", "") for s in plan["steps"])
    for command in ("terraform init", "terraform validate", "terraform plan"):
        assert command in plan_runs
    assert "terraform fmt -check" in " ".join(s.get("run", "") for s in jobs["fmt"]["steps"])
    assert any(str(s.get("uses", "")).startswith("actions/upload-artifact@") for s in plan["steps"])
    assert "terraform apply" in " ".join(s.get("run", "") for s in apply["steps"])
    assert tf["env"]["ARM_USE_OIDC"] == "true"
    # Remote state from the first apply: the backend block lives in envs/dev,
    # the jobs only name the account.
    backend = (REPO_ROOT / "infra/terraform/envs/dev/backend.tf").read_text(encoding="utf-8")
    assert 'backend "azurerm"' in backend
    for job in (plan, apply):
        runs = " ".join(s.get("run", "") for s in job["steps"])
        assert '-backend-config="storage_account_name=$TFSTATE_STORAGE_ACCOUNT"' in runs


def _required_terraform_variables() -> set[str]:
    """envs/dev's variables without a default (Terraform asks for these, or with
    -input=false fails: "No value for required variable")."""
    text = (REPO_ROOT / "infra/terraform/envs/dev/variables.tf").read_text(encoding="utf-8")
    blocks = re.split(r'^variable "', text, flags=re.M)[1:]
    return {b.split('"', 1)[0] for b in blocks if not re.search(r"^\s+default\s*=", b, re.M)}


def _variables_missing_from(tf: dict[str, Any], job: str) -> set[str]:
    """Required variables the job's plan gets neither from a terraform.tfvars written before
    it from the repository variable TERRAFORM_TFVARS (through the step's environment, never
    expanded into the script) nor as TF_VAR_<name>."""
    steps = tf["jobs"][job]["steps"]
    plan_at = next(i for i, s in enumerate(steps) if "terraform plan" in s.get("run", ""))
    if any(
        "> terraform.tfvars" in s.get("run", "")
        and s.get("env", {}).get("TFVARS") == "${{ vars.TERRAFORM_TFVARS }}"
        and "${{" not in s["run"]
        for s in steps[:plan_at]
    ):
        return set()
    env = {**tf.get("env", {}), **tf["jobs"][job].get("env", {})}
    return _required_terraform_variables() - {k.removeprefix("TF_VAR_") for k in env}


@pytest.mark.parametrize("job", ["plan", "apply"])
def test_every_required_terraform_variable_reaches_the_plan(job: str) -> None:
    """Without them `terraform plan -input=false` stops: "No value for required variable"."""
    assert {"operator_ip_ranges", "key_vault_secrets_officer_object_ids"} <= (
        _required_terraform_variables()
    )
    assert _variables_missing_from(_workflow("terraform"), job) == set()
    infra = (REPO_ROOT / "docs/infra.md").read_text(encoding="utf-8")
    assert "`TERRAFORM_TFVARS`" in infra  # the setup steps name the repository variable


def _drop_the_step(steps: list[dict[str, Any]], at: int) -> None:
    del steps[at]


def _read_another_variable(steps: list[dict[str, Any]], at: int) -> None:
    steps[at]["env"]["TFVARS"] = "${{ vars.TFVARS }}"


def _expand_into_the_script(steps: list[dict[str, Any]], at: int) -> None:
    steps[at]["run"] = steps[at]["run"].replace('"$TFVARS"', "'${{ vars.TERRAFORM_TFVARS }}'")


@pytest.mark.parametrize(
    "breaking", [_drop_the_step, _read_another_variable, _expand_into_the_script]
)
def test_the_terraform_variables_check_sees_a_plan_without_them(breaking: Any) -> None:
    tf = copy.deepcopy(_workflow("terraform"))
    steps = tf["jobs"]["plan"]["steps"]
    [at] = [i for i, s in enumerate(steps) if "terraform.tfvars" in s.get("name", "")]
    breaking(steps, at)
    assert "operator_ip_ranges" in _variables_missing_from(tf, "plan")


# GitHub keeps at most one running and one pending run per concurrency group: "Any existing
# pending job or workflow in the same concurrency group, if it exists, will be canceled and the
# new queued job or workflow will take its place" - whatever cancel-in-progress says (that only
# decides about the *running* one).
# https://docs.github.com/en/actions/writing-workflows/choosing-what-your-workflow-does/control-the-concurrency-of-workflows-and-jobs


def _pull_request(workflow: dict[str, Any], number: int) -> dict[str, Any]:
    return event_context(
        workflow,
        "pull_request",
        f"refs/pull/{number}/merge",
        head_ref=f"feature-{number}",
        base_ref="main",
        run_id=str(1000 + number),
        event={"pull_request": {"number": number}},
    )


def _push_main(workflow: dict[str, Any], sha: str) -> dict[str, Any]:
    return event_context(workflow, "push", "refs/heads/main", sha=sha, run_id=sha[:6], event={})


def apply_group_sharers(workflows: dict[str, dict[str, Any]]) -> list[str]:
    """Pull-request jobs (of any workflow: groups are repository-wide) that share a concurrency
    group with terraform's apply on main, so their queuing can cancel a pending apply."""
    terraform = workflows["terraform"]
    push = _push_main(terraform, "a" * 40)
    assert job_runs(terraform, "apply", push), "the apply job must run for a push to main"
    apply_groups = concurrency_groups(terraform, "apply", push)
    assert apply_groups, "the apply must be serialised by a concurrency group"
    sharers = []
    for name, workflow in sorted(workflows.items()):
        if "pull_request" not in workflow["on"]:
            continue
        for number in (1, 2):
            pr = _pull_request(workflow, number)
            for job_name in workflow["jobs"]:
                if not job_runs(workflow, job_name, pr):
                    continue
                shared = concurrency_groups(workflow, job_name, pr) & apply_groups
                if shared:
                    sharers.append(f"{name}.{job_name} (PR #{number}): {sorted(shared)}")
    return sharers


def _all_workflows() -> dict[str, dict[str, Any]]:
    return {name: _workflow(name) for name in WORKFLOWS}


def test_no_pull_request_run_can_replace_a_queued_terraform_apply() -> None:
    assert apply_group_sharers(_all_workflows()) == []


def test_terraform_applies_are_serialised_and_a_running_one_is_never_cancelled() -> None:
    tf = _workflow("terraform")
    first, second = _push_main(tf, "a" * 40), _push_main(tf, "b" * 40)
    # Two pushes to main: one group, so two applies never hold the state at once...
    assert concurrency_groups(tf, "apply", first) == concurrency_groups(tf, "apply", second)
    # ...and the newer one waits for the running apply instead of killing it mid-apply.
    assert cancels_in_progress(tf, second) is False
    assert not job_runs(tf, "plan", first)


def test_each_pull_request_plans_in_its_own_group() -> None:
    """One PR's plan never replaces another PR's pending plan; a new push to the same PR
    supersedes its own plan (plans take no state lock: `-lock=false`)."""
    tf = _workflow("terraform")
    one, two = _pull_request(tf, 1), _pull_request(tf, 2)
    assert job_runs(tf, "plan", one)
    assert not job_runs(tf, "apply", one)
    assert concurrency_groups(tf, "plan", one) != concurrency_groups(tf, "plan", two)
    assert cancels_in_progress(tf, one) is True


@pytest.mark.parametrize(
    ("mutate", "sharer"),
    [
        # The original single group for plans and applies ("never cancelled" - but pending
        # runs are).
        (
            lambda wf: wf.update(
                concurrency={"group": "terraform-envs-dev", "cancel-in-progress": False}
            ),
            "terraform.plan (PR #1): ['terraform-envs-dev']",
        ),
        # Group names are case insensitive.
        (
            lambda wf: wf["jobs"]["plan"].update(concurrency="Terraform-Envs-Dev-APPLY"),
            "terraform.plan (PR #1): ['terraform-envs-dev-apply']",
        ),
    ],
)
def test_concurrency_check_notices_a_plan_sharing_the_apply_group(mutate: Any, sharer: str) -> None:
    workflows = _all_workflows()
    workflows["terraform"] = copy.deepcopy(workflows["terraform"])
    mutate(workflows["terraform"])
    assert sharer in apply_group_sharers(workflows)


def test_concurrency_check_notices_another_workflow_in_the_apply_group() -> None:
    workflows = _all_workflows()
    workflows["ci"] = copy.deepcopy(workflows["ci"])
    workflows["ci"]["concurrency"] = {"group": "${{ 'terraform-envs-dev-apply' }}"}
    assert "ci.test (PR #1): ['terraform-envs-dev-apply']" in apply_group_sharers(workflows)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("github.event_name == 'PULL_REQUEST'", True),  # string comparison ignores case
        ("github.event_name == 'pull_request' && 'plan' || 'apply'", "plan"),
        ("github.event_name == 'push' && 'plan' || 'apply'", "apply"),
        ("format('pr-{0}-{1}', github.event.pull_request.number, github.nope)", "pr-7-"),
        ("!startsWith(github.ref, 'refs/pull/') || contains(github.ref, '7')", True),
        ("github.event.pull_request.number == '7'", True),  # compared as numbers
    ],
)
def test_expression_model_follows_github_semantics(expression: str, expected: Any) -> None:
    context = _pull_request({"name": "t"}, 7)
    assert evaluate(expression, context) == expected


@pytest.mark.parametrize("expression", ["hashFiles('x')", "secrets.TOKEN", "github.ref =="])
def test_expression_model_refuses_what_it_does_not_model(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, _pull_request({"name": "t"}, 7))


def test_federated_subjects_match_how_the_workflows_run() -> None:
    """The OIDC subject GitHub puts in each job's token is one Terraform trusts."""
    module = (REPO_ROOT / "infra/terraform/modules/github_oidc/main.tf").read_text()
    variables = (REPO_ROOT / "infra/terraform/modules/github_oidc/variables.tf").read_text()
    apply_env = re.search(
        r'variable "apply_environment" \{.*?default\s*=\s*"([^"]+)"', variables, re.S
    ).group(1)
    assert 'build = "repo:${var.github_repository}:ref:refs/heads/main"' in module
    assert 'plan  = "repo:${var.github_repository}:pull_request"' in module
    assert "environment:${var.apply_environment}" in module
    # images: no environment, runs on main -> ref subject; plan: no environment -> pull_request.
    assert "environment" not in _workflow("images")["jobs"]["build"]
    assert _workflow("images")["on"]["push"]["branches"] == ["main"]
    assert _workflow("terraform")["jobs"]["apply"]["environment"] == apply_env
    client_ids = {
        "images": _workflow("images")["jobs"]["build"]["steps"],
    }
    login = next(s for s in client_ids["images"] if str(s.get("uses", "")).startswith("azure/"))
    assert login["with"]["client-id"] == "${{ vars.AZURE_CLIENT_ID_IMAGES }}"
    tf_jobs = _workflow("terraform")["jobs"]
    assert tf_jobs["plan"]["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_CLIENT_ID_TF_PLAN }}"
    assert tf_jobs["apply"]["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_CLIENT_ID_TF_APPLY }}"


def test_workflow_directory_holds_nothing_unchecked() -> None:
    assert sorted(p.name for p in WORKFLOWS_DIR.iterdir()) == sorted(
        p.name for p in WORKFLOWS.values()
    )
