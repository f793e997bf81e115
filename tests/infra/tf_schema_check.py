"""Offline schema checker for Terraform configurations.

`terraform validate` needs the provider plugins, which cannot be downloaded on
this project's machines. This module does the part of validation that matters
most without them: every ``resource``/``data`` block is checked against the
provider schema JSON (the output of ``terraform providers schema -json``):

* the resource or data source type exists;
* every argument and nested block name exists (unknown ones fail);
* computed-only attributes are not set;
* required arguments are present;
* nested blocks respect ``min_items``/``max_items``;
* ``dynamic`` blocks are checked like the block they generate;
* deprecated arguments are reported;
* references such as ``azurerm_x.name.attr`` point at an attribute or block of
  that type.

azurerm and azuread come from ``schemas/terraform`` (vendored, trimmed; see schemas/README.md). The
Cloudflare (v5), random and time providers have no schema file here, so small
hand-written schemas cover exactly the types this repo may use; they follow the
provider sources/docs named next to them. ``ephemeral`` blocks are checked like
resources, and ``provider`` blocks (including azurerm's ``features``) against
hand-written provider-configuration schemas (the vendored JSON files hold only
resource and data source schemas).

Run as a script: ``python tests/infra/tf_schema_check.py infra/terraform``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO_ROOT / "schemas" / "terraform"
SCHEMA_FILES = {"azurerm": "azurerm-4.79.0.json", "azuread": "azuread-3.7.0.json"}

# Meta-arguments Terraform accepts in every resource / data block.
META_ARGUMENTS = {
    "count",
    "for_each",
    "depends_on",
    "provider",
    "lifecycle",
    "provisioner",
    "connection",
}
HCL_INTERNAL = {"__is_block__", "__comments__", "__inline_comments__"}


def _attr(
    required: bool = False, computed: bool = False, nested: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build one attribute entry in the provider-schema JSON format."""
    spec: dict[str, Any] = {"type": "dynamic"}
    if required:
        spec["required"] = True
    elif computed and nested is None:
        spec["computed"] = True
    else:
        spec["optional"] = True
    if nested is not None:
        spec["nested_type"] = nested
    return spec


def _nested(mode: str, **attributes: dict[str, Any]) -> dict[str, Any]:
    """Build a plugin-framework ``nested_type`` (single/list nested attribute)."""
    return {"nesting_mode": mode, "attributes": attributes}


def _origin_request() -> dict[str, Any]:
    """origin_request object of the tunnel config (provider v5 schema.go)."""
    names = [
        "ca_pool",
        "connect_timeout",
        "disable_chunked_encoding",
        "http2_origin",
        "http_host_header",
        "keep_alive_connections",
        "keep_alive_timeout",
        "no_happy_eyeballs",
        "no_tls_verify",
        "origin_server_name",
        "proxy_type",
        "tcp_keep_alive",
        "tls_timeout",
    ]
    attrs = {n: _attr() for n in names}
    attrs["access"] = _attr(
        nested=_nested("single", aud_tag=_attr(required=True), team_name=_attr(), required=_attr())
    )
    return _nested("single", **attrs)


# Cloudflare provider v5, the pinned `~> 5.11` (source: github.com/cloudflare/
# terraform-provider-cloudflare at tag v5.11.0, one file per type:
#   internal/services/zero_trust_tunnel_cloudflared/schema.go
#   internal/services/zero_trust_tunnel_cloudflared_config/schema.go
#   internal/services/dns_record/schema.go
#   internal/services/zero_trust_tunnel_cloudflared_token/data_source_schema.go
# and the registry pages of 5.11.0, registry.terraform.io/providers/cloudflare/
# cloudflare/5.11.0/docs/resources/<type>). Every argument is an attribute
# (plugin framework), nested objects are nested attributes; only the
# attributes those files declare are listed, with their required/computed flags.
CLOUDFLARE_V5: dict[str, dict[str, Any]] = {
    "resource": {
        "cloudflare_zero_trust_tunnel_cloudflared": {
            "block": {
                "attributes": {
                    "id": _attr(computed=True),
                    "account_id": _attr(required=True),
                    "name": _attr(required=True),
                    "config_src": _attr(),
                    "tunnel_secret": _attr(),
                    "account_tag": _attr(computed=True),
                    "status": _attr(computed=True),
                    "created_at": _attr(computed=True),
                }
            }
        },
        "cloudflare_zero_trust_tunnel_cloudflared_config": {
            "block": {
                "attributes": {
                    "id": _attr(computed=True),
                    "account_id": _attr(required=True),
                    "tunnel_id": _attr(required=True),
                    "source": _attr(),
                    "version": _attr(computed=True),
                    "config": _attr(
                        nested=_nested(
                            "single",
                            ingress=_attr(
                                nested=_nested(
                                    "list",
                                    hostname=_attr(),
                                    service=_attr(required=True),
                                    path=_attr(),
                                    origin_request=_attr(nested=_origin_request()),
                                )
                            ),
                            origin_request=_attr(nested=_origin_request()),
                            warp_routing=_attr(nested=_nested("single", enabled=_attr())),
                        )
                    ),
                }
            }
        },
        "cloudflare_dns_record": {
            "block": {
                "attributes": {
                    "id": _attr(computed=True),
                    "zone_id": _attr(required=True),
                    "name": _attr(),
                    "type": _attr(),
                    "content": _attr(),
                    "ttl": _attr(),
                    "proxied": _attr(),
                    "comment": _attr(),
                    "tags": _attr(),
                    "priority": _attr(),
                    "data": _attr(),
                    "settings": _attr(
                        nested=_nested(
                            "single", ipv4_only=_attr(), ipv6_only=_attr(), flatten_cname=_attr()
                        )
                    ),
                    "proxiable": _attr(computed=True),
                    "created_on": _attr(computed=True),
                    "modified_on": _attr(computed=True),
                }
            }
        },
    },
    "data": {
        "cloudflare_zero_trust_tunnel_cloudflared_token": {
            "block": {
                "attributes": {
                    "account_id": _attr(required=True),
                    "tunnel_id": _attr(required=True),
                    "token": _attr(computed=True),
                }
            }
        },
    },
}

# hashicorp/random 3.7 (registry docs for random_password/random_string/random_uuid,
# https://registry.terraform.io/providers/hashicorp/random/3.7.2/docs, and the
# ephemeral random_password added in 3.7.0:
# https://registry.terraform.io/providers/hashicorp/random/3.7.2/docs/ephemeral-resources/password).
_RANDOM_STRING_ATTRS = {
    "id": _attr(computed=True),
    "length": _attr(required=True),
    "keepers": _attr(),
    "lower": _attr(),
    "upper": _attr(),
    "numeric": _attr(),
    "special": _attr(),
    "min_lower": _attr(),
    "min_upper": _attr(),
    "min_numeric": _attr(),
    "min_special": _attr(),
    "override_special": _attr(),
    "result": _attr(computed=True),
}
RANDOM_3: dict[str, dict[str, Any]] = {
    "resource": {
        "random_password": {
            "block": {"attributes": {**_RANDOM_STRING_ATTRS, "bcrypt_hash": _attr(computed=True)}}
        },
        "random_string": {"block": {"attributes": dict(_RANDOM_STRING_ATTRS)}},
        "random_uuid": {
            "block": {
                "attributes": {
                    "id": _attr(computed=True),
                    "keepers": _attr(),
                    "result": _attr(computed=True),
                }
            }
        },
    },
    "data": {},
    "ephemeral": {
        # The ephemeral password has no id and no keepers (nothing is stored).
        "random_password": {
            "block": {
                "attributes": {
                    **{k: v for k, v in _RANDOM_STRING_ATTRS.items() if k not in {"id", "keepers"}},
                    "bcrypt_hash": _attr(computed=True),
                }
            }
        },
    },
}

# hashicorp/time 0.13 time_sleep (registry docs,
# https://registry.terraform.io/providers/hashicorp/time/0.13.1/docs/resources/sleep:
# create_duration, destroy_duration, triggers; id is computed).
TIME_0: dict[str, dict[str, Any]] = {
    "resource": {
        "time_sleep": {
            "block": {
                "attributes": {
                    "id": _attr(computed=True),
                    "create_duration": _attr(),
                    "destroy_duration": _attr(),
                    "triggers": _attr(),
                }
            }
        },
    },
    "data": {},
}


def _features_block(**blocks: dict[str, Any]) -> dict[str, Any]:
    """A single optional nested block of optional attributes (max one)."""
    return {"nesting_mode": "list", "max_items": 1, "block": {"attributes": blocks}}


# Provider configuration blocks. The vendored JSON files carry no provider
# schema, so these follow the providers' documented arguments:
# * azurerm 4.x: https://registry.terraform.io/providers/hashicorp/azurerm/4.79.0/docs
#   (Argument Reference) and the features block guide,
#   https://registry.terraform.io/providers/hashicorp/azurerm/4.79.0/docs/guides/features-block
#   (features is required, exactly one block; only its documented sub-blocks);
# * azuread 3.x: https://registry.terraform.io/providers/hashicorp/azuread/3.7.0/docs;
# * cloudflare 5.x: https://registry.terraform.io/providers/cloudflare/cloudflare/5.11.0/docs.
_AUTH_ARGS = {
    name: _attr()
    for name in (
        "client_id",
        "client_id_file_path",
        "client_secret",
        "client_secret_file_path",
        "client_certificate",
        "client_certificate_password",
        "client_certificate_path",
        "environment",
        "metadata_host",
        "msi_endpoint",
        "oidc_request_token",
        "oidc_request_url",
        "oidc_token",
        "oidc_token_file_path",
        "ado_pipeline_service_connection_id",
        "tenant_id",
        "use_aks_workload_identity",
        "use_cli",
        "use_msi",
        "use_oidc",
        "partner_id",
        "disable_terraform_partner_id",
    )
}
PROVIDERS: dict[str, dict[str, Any]] = {
    "azurerm": {
        "attributes": {
            **_AUTH_ARGS,
            "subscription_id": _attr(),
            "auxiliary_tenant_ids": _attr(),
            "resource_provider_registrations": _attr(),
            "resource_providers_to_register": _attr(),
            "storage_use_azuread": _attr(),
            "disable_correlation_request_id": _attr(),
        },
        "block_types": {
            "features": {
                "nesting_mode": "list",
                "min_items": 1,
                "max_items": 1,
                "block": {
                    "attributes": {},
                    "block_types": {
                        "key_vault": _features_block(
                            purge_soft_delete_on_destroy=_attr(),
                            purge_soft_deleted_certificates_on_destroy=_attr(),
                            purge_soft_deleted_keys_on_destroy=_attr(),
                            purge_soft_deleted_secrets_on_destroy=_attr(),
                            purge_soft_deleted_hardware_security_modules_on_destroy=_attr(),
                            recover_soft_deleted_certificates=_attr(),
                            recover_soft_deleted_key_vaults=_attr(),
                            recover_soft_deleted_keys=_attr(),
                            recover_soft_deleted_secrets=_attr(),
                        ),
                        "resource_group": _features_block(
                            prevent_deletion_if_contains_resources=_attr()
                        ),
                        "storage": _features_block(data_plane_available=_attr()),
                        "virtual_machine": _features_block(
                            detach_implicit_data_disk_on_deletion=_attr(),
                            delete_os_disk_on_deletion=_attr(),
                            skip_shutdown_and_force_delete=_attr(),
                        ),
                        "log_analytics_workspace": _features_block(
                            permanently_delete_on_destroy=_attr()
                        ),
                        "cognitive_account": _features_block(purge_soft_delete_on_destroy=_attr()),
                        "postgresql_flexible_server": _features_block(
                            restart_server_on_configuration_value_change=_attr()
                        ),
                    },
                },
            }
        },
    },
    "azuread": {"attributes": dict(_AUTH_ARGS)},
    "cloudflare": {
        "attributes": {
            name: _attr()
            for name in ("api_token", "api_key", "api_user_service_key", "email", "base_url")
        }
    },
    "random": {"attributes": {}},
    "time": {"attributes": {}},
}


@dataclass(frozen=True)
class Finding:
    """One schema violation."""

    file: str
    address: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.address}: {self.message}"


class SchemaSet:
    """Resource and data source schemas of every known provider."""

    def __init__(self, schema_dir: Path = SCHEMA_DIR) -> None:
        self.schemas: dict[str, dict[str, dict[str, Any]]] = {}
        for provider, filename in SCHEMA_FILES.items():
            raw = json.loads((schema_dir / filename).read_text(encoding="utf-8"))
            self.schemas[provider] = {
                "resource": raw["resource_schemas"],
                "data": raw["data_source_schemas"],
            }
        self.schemas["cloudflare"] = CLOUDFLARE_V5
        self.schemas["random"] = RANDOM_3
        self.schemas["time"] = TIME_0

    def lookup(self, kind: str, type_name: str) -> dict[str, Any] | None:
        """Return the schema ``block`` of a resource, data source or ephemeral resource."""
        provider = type_name.split("_", 1)[0]
        entry = self.schemas.get(provider, {}).get(kind, {}).get(type_name)
        return entry["block"] if entry else None

    def knows_provider(self, type_name: str) -> bool:
        """Whether the provider prefix of a type has a schema here."""
        return type_name.split("_", 1)[0] in self.schemas


def _blocks(value: Any) -> list[dict[str, Any]] | None:
    """Return the list of block bodies if ``value`` is block syntax, else None."""
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    ):
        return value
    if isinstance(value, dict) and value.get("__is_block__"):
        return [value]
    return None


class _Checker:
    """Walks parsed HCL bodies and collects findings."""

    def __init__(self, schemas: SchemaSet, file: str) -> None:
        self.schemas = schemas
        self.file = file
        self.findings: list[Finding] = []

    def report(self, address: str, message: str) -> None:
        self.findings.append(Finding(self.file, address, message))

    def check_nested_value(self, value: Any, nested: dict[str, Any], address: str) -> None:
        """Check an object literal assigned to a nested attribute (plugin framework)."""
        if isinstance(value, str):  # an expression: cannot be checked statically
            return
        items = (
            value
            if nested.get("nesting_mode") in {"list", "set"} and isinstance(value, list)
            else [value]
        )
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            where = f"{address}[{index}]" if len(items) > 1 or isinstance(value, list) else address
            attrs = nested.get("attributes", {})
            for key, sub in item.items():
                if key in HCL_INTERNAL:
                    continue
                if key not in attrs:
                    self.report(where, f"unknown attribute {key!r}")
                elif "nested_type" in attrs[key]:
                    self.check_nested_value(sub, attrs[key]["nested_type"], f"{where}.{key}")
            for key, spec in attrs.items():
                if spec.get("required") and key not in item:
                    self.report(where, f"missing required attribute {key!r}")

    def check_body(
        self, body: dict[str, Any], schema: dict[str, Any], address: str, top: bool | str
    ) -> None:
        """Check one block body against its schema block."""
        attributes: dict[str, Any] = schema.get("attributes", {})
        block_types: dict[str, Any] = schema.get("block_types", {})
        block_counts: dict[str, int] = {}
        dynamic_blocks: set[str] = set()

        for key, value in body.items():
            if key in HCL_INTERNAL:
                continue
            if top is True and key in META_ARGUMENTS:
                continue
            if top == "provider" and key in {"alias", "version"}:
                continue
            if key == "dynamic":
                for label, content in self._dynamic_items(value):
                    where = f"{address}.dynamic.{label}"
                    if label not in block_types:
                        self.report(where, f"dynamic block of unknown block type {label!r}")
                        continue
                    dynamic_blocks.add(label)
                    bodies = _blocks(content.get("content"))
                    if not bodies:
                        self.report(where, "dynamic block without a content block")
                        continue
                    for inner in bodies:
                        self.check_body(
                            inner, block_types[label]["block"], f"{where}.content", top=False
                        )
                continue
            if key in attributes:
                spec = attributes[key]
                if (
                    _blocks(value) is not None
                    and "nested_type" not in spec
                    and not _is_object_collection(spec.get("type"))
                ):
                    self.report(f"{address}.{key}", "is an argument, not a block (use key = value)")
                    continue
                if spec.get("computed") and not spec.get("optional") and not spec.get("required"):
                    self.report(f"{address}.{key}", "is computed-only and cannot be set")
                if spec.get("deprecated"):
                    self.report(f"{address}.{key}", "is deprecated in this provider version")
                if "nested_type" in spec:
                    self.check_nested_value(value, spec["nested_type"], f"{address}.{key}")
                continue
            if key in block_types:
                bodies = _blocks(value)
                if bodies is None:
                    self.report(f"{address}.{key}", "is a block, not an argument (use key { ... })")
                    continue
                block_counts[key] = block_counts.get(key, 0) + len(bodies)
                for index, inner in enumerate(bodies):
                    suffix = f"[{index}]" if len(bodies) > 1 else ""
                    self.check_body(
                        inner, block_types[key]["block"], f"{address}.{key}{suffix}", top=False
                    )
                continue
            kind = "block" if _blocks(value) is not None else "argument"
            self.report(address, f"unknown {kind} {key!r}")

        for key, spec in attributes.items():
            if spec.get("required") and key not in body:
                self.report(address, f"missing required argument {key!r}")
        for key, spec in block_types.items():
            count = block_counts.get(key, 0)
            min_items = spec.get("min_items") or 0
            max_items = spec.get("max_items") or 0
            if count < min_items and key not in dynamic_blocks:
                self.report(address, f"block {key!r} needs at least {min_items} (found {count})")
            if max_items and count > max_items:
                self.report(address, f"block {key!r} allows at most {max_items} (found {count})")

    @staticmethod
    def _dynamic_items(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (label, body) pairs of a parsed ``dynamic`` key."""
        for entry in value if isinstance(value, list) else [value]:
            if not isinstance(entry, dict):
                continue
            for label, body in entry.items():
                if label in HCL_INTERNAL:
                    continue
                for inner in _blocks(body) or ([body] if isinstance(body, dict) else []):
                    yield label, inner


def _is_object_collection(type_spec: Any) -> bool:
    """True for list/set(object) attributes, which accept block syntax ("attributes as blocks")."""
    return (
        isinstance(type_spec, list)
        and len(type_spec) == 2
        and type_spec[0] in {"list", "set"}
        and isinstance(type_spec[1], list)
        and type_spec[1][:1] == ["object"]
    )


def parse_hcl(path: Path) -> dict[str, Any]:
    """Parse one .tf file with python-hcl2 (blocks marked, quotes stripped)."""
    options = SerializationOptions(
        with_comments=False, strip_string_quotes=True, explicit_blocks=True
    )
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=options)


def iter_tf_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Yield every .tf file under the given files/directories (skips .terraform)."""
    for path in paths:
        if path.is_file() and path.suffix == ".tf":
            yield path
        elif path.is_dir():
            for found in sorted(path.rglob("*.tf")):
                if ".terraform" not in found.parts:
                    yield found


_REFERENCE = re.compile(
    r"(?<![\w.\"])(data\.|ephemeral\.)?((?:azurerm|azuread|cloudflare|random|time)_[a-z0-9_]+)\.([a-z0-9_-]+)"
    r"(?:\[[^\]]*\])?\.([a-z_][a-z0-9_]*)"
)


def _strip_comments(text: str) -> str:
    """Drop # and // line comments and /* */ blocks (good enough for .tf references)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(re.sub(r"(^|\s)(#|//).*$", "", line) for line in text.splitlines())


def check_references(path: Path, schemas: SchemaSet) -> list[Finding]:
    """Check ``type.name.attr`` references against the referenced type's schema."""
    findings: list[Finding] = []
    for match in _REFERENCE.finditer(_strip_comments(path.read_text(encoding="utf-8"))):
        prefix, type_name, name, attr = match.groups()
        kind = {"data.": "data", "ephemeral.": "ephemeral"}.get(prefix or "", "resource")
        schema = schemas.lookup(kind, type_name)
        if schema is None:
            continue  # unknown types are reported by the block check
        if attr not in schema.get("attributes", {}) and attr not in schema.get("block_types", {}):
            findings.append(
                Finding(
                    str(path),
                    f"{prefix or ''}{type_name}.{name}",
                    f"reference to unknown attribute {attr!r}",
                )
            )
    return findings


def check_file(path: Path, schemas: SchemaSet) -> list[Finding]:
    """Check every resource and data block of one file."""
    checker = _Checker(schemas, str(path))
    try:
        parsed = parse_hcl(path)
    except Exception as exc:
        return [Finding(str(path), "-", f"HCL parse error: {exc}")]
    for entry in parsed.get("provider", []):
        for provider, body in entry.items():
            if provider in HCL_INTERNAL:
                continue
            address = f"provider.{provider}"
            if isinstance(body, dict) and body.get("alias"):
                address += f".{body['alias']}"
            schema = PROVIDERS.get(provider)
            if schema is None:
                checker.report(address, f"no provider schema for {provider!r}")
                continue
            checker.check_body(body, schema, address, top="provider")
    for kind in ("resource", "data", "ephemeral"):
        for entry in parsed.get(kind, []):
            for type_name, instances in entry.items():
                if type_name in HCL_INTERNAL:
                    continue
                for name, body in instances.items():
                    if name in HCL_INTERNAL:
                        continue
                    prefix = {"data": "data.", "ephemeral": "ephemeral."}.get(kind, "")
                    address = f"{prefix}{type_name}.{name}"
                    schema = schemas.lookup(kind, type_name)
                    if schema is None:
                        what = {"resource": "resource type", "data": "data source"}.get(
                            kind, "ephemeral resource"
                        )
                        why = (
                            ""
                            if schemas.knows_provider(type_name)
                            else " (no schema for this provider)"
                        )
                        checker.report(address, f"unknown {what} {type_name!r}{why}")
                        continue
                    checker.check_body(body, schema, address, top=True)
    return checker.findings + check_references(path, schemas)


def check_paths(paths: Iterable[Path], schemas: SchemaSet | None = None) -> list[Finding]:
    """Check every .tf file under ``paths``."""
    schemas = schemas or SchemaSet()
    findings: list[Finding] = []
    for path in iter_tf_files(paths):
        findings.extend(check_file(path, schemas))
    return findings


def main(argv: list[str]) -> int:
    """CLI entry point: print findings, exit 1 when there are any."""
    targets = [Path(a) for a in argv] or [REPO_ROOT / "infra" / "terraform"]
    findings = check_paths(targets)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
