"""Image references and the set of images a CVE affects, matched by tag or by digest.

A CVE advisory or a scanner names the vulnerable images either by tag (``api:1.4.2``) or by content digest
(``api@sha256:...``). A workload may reference the same content by a tag while its pods report the digest
they actually pulled (``status.containerStatuses[].imageID``), so a digest is matched against both the spec
and what runs. Tags are matched within the affected repository only; a digest names content, so it matches
wherever the content came from (a mirror included).
"""

from __future__ import annotations

from dataclasses import dataclass

RUNTIME_PREFIXES = ("docker-pullable://", "docker://", "containerd://")
DEFAULT_REGISTRY = "docker.io"


@dataclass(frozen=True)
class ImageRef:
    """One image reference split into repository, tag and digest (either may be absent, not both in use)."""

    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def effective_tag(self) -> str | None:
        """Return the tag the runtime pulls: none when a digest pins the content, else ``latest``."""
        if self.tag is not None:
            return self.tag
        return None if self.digest else "latest"

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def normalise_repository(repository: str) -> str:
    """Spell a repository as the runtime does: ``nginx`` is ``docker.io/library/nginx``."""
    first, _, rest = repository.partition("/")
    if not rest:
        return f"{DEFAULT_REGISTRY}/library/{first}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"{DEFAULT_REGISTRY}/{repository}"
    return repository


def parse_image(image: str) -> ImageRef:
    """Parse ``[registry[:port]/]path[:tag][@sha256:hex]`` (and a runtime's ``imageID``) into its parts."""
    text = image.strip()
    for prefix in RUNTIME_PREFIXES:
        text = text.removeprefix(prefix)
    name, _, digest = text.partition("@")
    slash = name.rfind("/")
    repository, tag = name, None
    if ":" in name[slash + 1 :]:
        repository, tag = name.rsplit(":", 1)
    return ImageRef(normalise_repository(repository), tag or None, digest.lower() or None)


@dataclass(frozen=True)
class AffectedImages:
    """The images one CVE affects: one repository, by tags and/or digests."""

    repository: str
    tags: frozenset[str]
    digests: frozenset[str]

    @classmethod
    def from_refs(cls, images: list[str]) -> AffectedImages:
        """Build the set from validated references (see ``validation.check_images``: one repository)."""
        refs = [parse_image(image) for image in images]
        return cls(
            repository=refs[0].repository,
            tags=frozenset(r.tag for r in refs if r.tag and not r.digest),
            digests=frozenset(r.digest for r in refs if r.digest),
        )

    def spec_match(self, image: str) -> str | None:
        """Say why the image a container asks for is affected (``tag 1.4.2``), or None."""
        ref = parse_image(image)
        if ref.digest and ref.digest in self.digests:
            return f"digest {ref.digest}"
        if ref.repository == self.repository and ref.effective_tag in self.tags:
            return f"tag {ref.effective_tag}"
        if ref.repository == self.repository and ref.tag in self.tags:
            return f"tag {ref.tag}"  # repo:tag@digest pins other content, but the advisory names the tag
        return None

    def running_match(self, image_id: str | None) -> str | None:
        """Why what a container runs (its ``imageID``) is affected: the digest it pulled, or None."""
        if not image_id:
            return None
        digest = parse_image(image_id).digest
        if digest and digest in self.digests:
            return f"running digest {digest}"
        return None
