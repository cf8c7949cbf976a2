from __future__ import annotations

import pytest
from airflow.sdk import Param

from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.dagkit.params import (
    ParamError,
    build_params,
    dry_run_default,
    require_image,
    validate_params,
)


def _resolved(declared):
    return {name: param.value for name, param in declared.items() if param.has_value}


class TestBuildParams:
    def test_mutating_runbooks_get_dry_run_and_lock_wait(self):
        declared = build_params(default_catalog().get("restore"))
        assert {"reason", "dry_run", "lock_wait_minutes", "backup_set", "target_time", "target"} <= set(
            declared
        )
        assert declared["dry_run"].value is True  # risk High

    def test_read_only_runbooks_have_no_dry_run(self):
        declared = build_params(default_catalog().get("debug_api"))
        assert "dry_run" not in declared and "lock_wait_minutes" not in declared

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("deployment", False),
            ("rollback", True),
            ("hotfix", True),
            ("scale_up", False),
            ("debug_api", False),
        ],
    )
    def test_dry_run_on_by_default_where_risk_is_medium_or_high(self, name, expected):
        assert dry_run_default(default_catalog().get(name)) is expected

    def test_required_inputs_have_no_default(self):
        declared = build_params(default_catalog().get("hotfix"))
        assert not declared["image"].has_value
        assert declared["image"].schema["pattern"]


class TestValidateParams:
    @pytest.fixture
    def declared(self):
        return build_params(default_catalog().get("deployment"))

    def good(self, declared):
        return {
            **_resolved(declared),
            "image": "registry.novacron.io/novacron/api:1.5.0",
            "change_ticket": "CHG-42",
        }

    def test_valid_params_pass(self, declared):
        values = validate_params(self.good(declared), declared, (require_image("image"),))
        assert values["image"].endswith(":1.5.0")

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("image", "api", "does not match"),
            ("image", "x:y;rm -rf /", "does not match"),
            ("image", "API:1", "does not match"),
            ("change_ticket", "chg 42", "does not match"),
            ("lock_wait_minutes", -1, "less than the minimum"),
            ("dry_run", "yes", "is not of type 'boolean'"),
        ],
    )
    def test_bad_value_names_the_field(self, declared, field, value, message):
        with pytest.raises(ParamError) as raised:
            validate_params({**self.good(declared), field: value}, declared)
        assert raised.value.field == field
        assert message in str(raised.value) and field in str(raised.value)

    def test_missing_required_value_is_named(self, declared):
        values = self.good(declared)
        del values["image"]
        with pytest.raises(ParamError, match="'image': is required"):
            validate_params(values, declared)

    def test_unknown_key_is_refused(self, declared):
        with pytest.raises(ParamError, match="'imgae': is not a param"):
            validate_params({**self.good(declared), "imgae": "x:1"}, declared)

    def test_digest_references_are_images(self, declared):
        digest = "registry.novacron.io/novacron/api@sha256:" + "a" * 64
        assert validate_params({**self.good(declared), "image": digest}, declared)["image"] == digest

    def test_cross_field_checks_run_after_the_schema(self, declared):
        def never_on_friday(values):
            raise ParamError("reason", "no deploys today")

        with pytest.raises(ParamError, match="no deploys today"):
            validate_params(self.good(declared), declared, (never_on_friday,))

    def test_extra_params_join_the_catalog(self):
        runbook = default_catalog().get("debug_api")
        declared = build_params(runbook, {"verbose": Param(False, type="boolean")})
        assert declared["verbose"].value is False
