"""The supported-upgrades table and the param check that refuses everything it does not list."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.upgrade.supported import check_combination, image_repository, load, supported

IMAGE = "registry.novacron.io/novacron/api:1.6.0"
DIGEST = "registry.novacron.io/novacron/api@sha256:" + "a" * 64


def values(component: str, target: str, extension: str = "") -> dict[str, str]:
    return {"component": component, "target_version": target, "extension": extension}


class TestCheckCombination:
    @pytest.mark.parametrize(
        "combination",
        [
            values("database", "1.10", "pg_stat_statements"),
            values("database", "1.6", "pg_trgm"),
            values("dependencies", IMAGE),
            values("dependencies", DIGEST),
        ],
        ids=["pg_stat_statements", "pg_trgm", "image-tag", "image-digest"],
    )
    def test_supported_combinations_pass(self, combination):
        check_combination(combination)

    @pytest.mark.parametrize(
        ("combination", "field", "message"),
        [
            (values("kubernetes", "1.31.4"), "component", "kubernetes upgrades are not supported"),
            (values("database", "17.2"), "target_version", "PostgreSQL server 17.2 (running: 15)"),
            (values("database", "1.0", "plpgsql"), "extension", "'plpgsql' is not in the supported-upgrades"),
            (values("database", "1.8", "pg_stat_statements"), "target_version", "supported: 1.9, 1.10"),
            (
                values("dependencies", "registry.example.com/other/app:1.0"),
                "target_version",
                "not an application",
            ),
            (values("dependencies", "1.6.0"), "target_version", "is not an image"),
            (values("dependencies", IMAGE, "pg_trgm"), "extension", "only for component 'database'"),
        ],
        ids=[
            "kubernetes",
            "server-major",
            "extension",
            "extension-version",
            "repository",
            "not-image",
            "extra",
        ],
    )
    def test_unsupported_combinations_are_refused_naming_the_field(self, combination, field, message):
        with pytest.raises(ParamError) as refused:
            check_combination(combination)
        assert refused.value.field == field
        assert message in str(refused.value)


class TestTable:
    def test_the_repository_table_lists_what_the_server_ships(self):
        table = supported()
        assert table.server_major == 15
        sharedir = subprocess.run(["pg_config", "--sharedir"], capture_output=True, text=True, check=True)
        share = Path(sharedir.stdout.strip()) / "extension"
        for rule in table.extensions.values():
            for target in rule.targets:  # an update script (or the base script) reaches every listed target
                assert list(share.glob(f"{rule.name}--*{target}.sql")), f"{rule.name} {target} not shipped"

    def test_a_malformed_table_is_refused_naming_the_entry(self, tmp_path):
        broken = tmp_path / "upgrades.yaml"
        broken.write_text("database: {server_major: 15, server_refusal: x, extensions: {}}\n")
        with pytest.raises(ValueError, match="'dependencies'"):
            load(broken)

    @pytest.mark.parametrize(
        ("image", "repository"),
        [
            (IMAGE, "registry.novacron.io/novacron/api"),
            (DIGEST, "registry.novacron.io/novacron/api"),
            ("localhost:5000/api:1", "localhost:5000/api"),
            ("localhost:5000/api", "localhost:5000/api"),
        ],
    )
    def test_image_repository(self, image, repository):
        assert image_repository(image) == repository
