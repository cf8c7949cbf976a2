"""The supported-upgrades table (``include/upgrades.yaml``) and the param check that enforces it.

Why a table in the repository rather than a list in code: what can be upgraded is an operational decision
(which extensions, which image repositories) that the Database Team reviews like any other change, and the
refusal text people read comes from the same file. :func:`check_combination` runs in ``validate_params``, so
an unsupported component, extension or version fails the run before anything changes, naming the field.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import yaml

from novacron_runbooks.dagkit.params import IMAGE_PATTERN, ParamError
from novacron_runbooks.paths import include_dir

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

DownStep = Literal["recreate", "restore"]


@dataclass(frozen=True)
class ExtensionRule:
    """An extension this runbook may update, the versions it may update to, and how it goes back."""

    name: str
    targets: tuple[str, ...]
    down: DownStep


@dataclass(frozen=True)
class SupportedUpgrades:
    """What ``include/upgrades.yaml`` allows, per component."""

    server_major: int
    server_refusal: str
    extensions: dict[str, ExtensionRule]
    repositories: tuple[str, ...]
    kubernetes_refusal: str

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SupportedUpgrades:
        database = raw["database"]
        extensions = {
            str(name): ExtensionRule(str(name), tuple(str(v) for v in spec["targets"]), spec["down"])
            for name, spec in sorted(database["extensions"].items())
        }
        for rule in extensions.values():
            if rule.down not in ("recreate", "restore"):
                raise ValueError(f"upgrades.yaml: database.extensions.{rule.name}.down: {rule.down!r}")
        return cls(
            server_major=int(database["server_major"]),
            server_refusal=" ".join(str(database["server_refusal"]).split()),
            extensions=extensions,
            repositories=tuple(str(r) for r in raw["dependencies"]["repositories"]),
            kubernetes_refusal=" ".join(str(raw["kubernetes"]["refusal"]).split()),
        )


def load(path: Path | None = None) -> SupportedUpgrades:
    """Read the table (``yaml.safe_load``); a malformed file raises, naming what is missing."""
    source = path or include_dir() / "upgrades.yaml"
    with source.open() as handle:
        raw = yaml.safe_load(handle)
    try:
        return SupportedUpgrades.from_mapping(raw)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{source}: missing or malformed entry {exc}") from exc


@functools.cache
def supported() -> SupportedUpgrades:
    """Return the repository's table, read once per process (it changes only with a deployment)."""
    return load()


def image_repository(image: str) -> str:
    """Return the repository part of ``repository:tag`` or ``repository@sha256:digest``."""
    if "@" in image:
        return image.split("@", 1)[0]
    head, _, tail = image.rpartition(":")
    return head if head and "/" not in tail else image


def _check_database(values: Mapping[str, Any], table: SupportedUpgrades) -> None:
    extension, target = str(values["extension"]), str(values["target_version"])
    if not extension:
        raise ParamError(
            "target_version",
            f"PostgreSQL server {target} (running: {table.server_major}) is not supported here: "
            f"{table.server_refusal}. To update an extension, name it in 'extension'",
        )
    rule = table.extensions.get(extension)
    if rule is None:
        raise ParamError(
            "extension",
            f"{extension!r} is not in the supported-upgrades table "
            f"(supported: {', '.join(table.extensions)})",
        )
    if target not in rule.targets:
        raise ParamError(
            "target_version",
            f"{extension} {target} is not a supported target (supported: {', '.join(rule.targets)})",
        )


def _check_dependencies(values: Mapping[str, Any], table: SupportedUpgrades) -> None:
    image = str(values["target_version"])
    if values["extension"]:
        raise ParamError("extension", "is only for component 'database'; leave it empty for dependencies")
    if not re.fullmatch(IMAGE_PATTERN, image):
        raise ParamError(
            "target_version", f"{image!r} is not an image (repository:tag or repository@sha256:digest)"
        )
    if image_repository(image) not in table.repositories:
        raise ParamError(
            "target_version",
            f"{image_repository(image)!r} is not an application repository this runbook upgrades "
            f"(supported: {', '.join(table.repositories)})",
        )


def check_combination(values: Mapping[str, Any]) -> None:
    """Refuse a component / extension / version combination the table does not list (``ParamError``)."""
    table = supported()
    component = values["component"]
    if component == "kubernetes":
        raise ParamError("component", f"kubernetes upgrades are not supported: {table.kubernetes_refusal}")
    if component == "database":
        _check_database(values, table)
    elif component == "dependencies":
        _check_dependencies(values, table)
    else:
        raise ParamError("component", f"{component!r} is not database, kubernetes or dependencies")
