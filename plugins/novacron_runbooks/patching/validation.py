"""Cross-field rules of the security patch's params, checked by ``validate_params`` before anything changes.

The JSON Schema of each param already refuses a malformed value; these rules say what the schema cannot: the
affected images and the patched image are one repository (a patch never swaps one program for another), the
patched image is not itself affected, and an affected image names a tag or a digest (a bare repository would
also match releases newer than the patch, and the runbook would downgrade them).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from novacron_runbooks.dagkit.params import IMAGE_PATTERN, ParamError
from novacron_runbooks.patching.images import AffectedImages, parse_image

if TYPE_CHECKING:
    from collections.abc import Mapping

CVE_PATTERN = r"CVE-[0-9]{4}-[0-9]{4,}"
SEVERITIES = ("critical", "high", "medium", "low")


def check_cve(values: Mapping[str, Any]) -> None:
    cve = str(values.get("cve_id", ""))
    if not re.fullmatch(CVE_PATTERN, cve):
        raise ParamError("cve_id", f"{cve!r} is not a CVE id (CVE-YYYY-NNNN, four or more digits)")


def check_severity(values: Mapping[str, Any]) -> None:
    if values.get("severity") not in SEVERITIES:
        raise ParamError("severity", f"{values.get('severity')!r} is not one of {', '.join(SEVERITIES)}")


def check_images(values: Mapping[str, Any]) -> None:
    """Refuse affected/patched images that are malformed, of different repositories, or overlapping."""
    patched = str(values.get("patched_image", ""))
    if not re.fullmatch(IMAGE_PATTERN, patched):
        raise ParamError("patched_image", f"{patched!r} is not repository:tag or repository@sha256:digest")
    affected = list(values.get("affected_images") or [])
    if not affected:
        raise ParamError(
            "affected_images", "name at least one affected image (repository:tag or @sha256:digest)"
        )
    repository = parse_image(patched).repository
    for index, image in enumerate(affected):
        field = f"affected_images.{index}"
        if not isinstance(image, str) or not re.fullmatch(IMAGE_PATTERN, image):
            raise ParamError(field, f"{image!r} is not repository:tag or repository@sha256:digest")
        if parse_image(image).repository != repository:
            raise ParamError(
                field,
                f"{image!r} is not of the patched image's repository {repository!r}: one image per run",
            )
    if AffectedImages.from_refs(affected).spec_match(patched):
        raise ParamError("patched_image", f"{patched!r} is one of the affected images")


CHECKS = (check_cve, check_severity, check_images)
"""The rules in the order a person reads the form: CVE, severity, images."""
