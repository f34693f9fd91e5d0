"""Image references, parsed and normalised as Docker and containerd do.

The rules are those of distribution/reference (the package dockerd,
containerd, CRI and kubelet all use), normalize.go `ParseNormalizedNamed` /
`splitDockerDomain` and regexp.go (read at 0965666):

- the part before the first "/" is a registry host when it is `localhost`,
  contains "." or ":", or has an upper-case letter; otherwise the whole name
  is a Docker Hub path (`osixia/openldap` -> docker.io/osixia/openldap);
- `index.docker.io` is the legacy spelling of `docker.io`;
- a Docker Hub name of one component is an official image under `library/`
  (`busybox` -> docker.io/library/busybox);
- the repository path must be lower case; a bare 64-hex string is an image
  ID, not a name;
- `:tag` is `[\\w][\\w.-]{0,127}`; `@algo:hex` a digest; with neither, the
  tag is `latest` (reference.TagNameOnly). A reference with both a tag and a
  digest is pulled by its digest (the tag is informative only).

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255  # reference.go RepositoryNameTotalLengthMax

# regexp.go, transcribed
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*"
_HOST = r"(?:" + _DOMAIN_NAME + r"|\[(?:[a-fA-F0-9:]+)\])"
_DOMAIN_AND_PORT = _HOST + r"(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    r"^(?P<name>(?:(?P<domain>"
    + _DOMAIN_AND_PORT
    + r")/)?(?P<path>"
    + _REMOTE_NAME
    + r"))(?::(?P<tag>"
    + _TAG
    + r"))?(?:@(?P<digest>"
    + _DIGEST
    + r"))?$"
)
_IDENTIFIER = re.compile(r"^[a-f0-9]{64}$")
_SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")


class ReferenceError(ValueError):
    """Not a valid image reference; the message says why, as Docker would."""


@dataclass(frozen=True, order=True)
class Reference:
    """A fully qualified reference: registry, repository path, tag, digest."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        """registry/path, e.g. docker.io/library/busybox."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """The short form `docker` prints (normalize.go familiarizeName)."""
        if self.domain != DEFAULT_DOMAIN:
            return self.repository
        rest = self.path.removeprefix(OFFICIAL_PREFIX)
        return rest if "/" not in rest else self.path

    def _with_suffix(self, repository: str) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return repository + tag + digest

    def __str__(self) -> str:
        return self._with_suffix(self.repository)

    @property
    def familiar(self) -> str:
        return self._with_suffix(self.familiar_repository)

    @property
    def tagged(self) -> str:
        """repository:tag (what a node's image list shows for a tagged pull)."""
        return f"{self.repository}:{self.tag or DEFAULT_TAG}"

    def with_digest(self, digest: str) -> Reference:
        if not _SHA256.match(digest):
            raise ReferenceError(f"not a sha256 digest: {digest!r}")
        return Reference(self.domain, self.path, self.tag, digest)

    @property
    def pinned(self) -> str:
        """repository@digest: the bits, whatever the tag points at today."""
        if not self.digest:
            raise ReferenceError(f"{self} has no digest")
        return f"{self.repository}@{self.digest}"

    @property
    def floating(self) -> bool:
        """No digest: what the tag names can change upstream."""
        return not self.digest


def _split_domain(name: str) -> tuple[str, str]:
    """normalize.go splitDockerDomain."""
    first, slash, rest = name.partition("/")
    if not slash:
        return DEFAULT_DOMAIN, OFFICIAL_PREFIX + name
    if first == "localhost" or any(c in first for c in ".:") or first.lower() != first:
        domain, remote = first, rest
    elif first == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, rest
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_PREFIX + remote
    return domain, remote


def parse(text: str) -> Reference:
    """Parse and normalise an image reference; a tagless, digestless one
    gets `latest`. Raises ReferenceError for what Docker refuses."""
    text = text.strip()
    if not text:
        raise ReferenceError("invalid reference format: empty image name")
    if _IDENTIFIER.match(text):
        raise ReferenceError(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(text)
    remote = remainder.split(":", 1)[0].split("@", 1)[0]
    if remote.lower() != remote:
        raise ReferenceError(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    match = _REFERENCE.match(f"{domain}/{remainder}")
    if match is None:
        raise ReferenceError(f"invalid reference format: {text!r}")
    if len(match.group("name")) > NAME_MAX:
        raise ReferenceError(f"repository name must not be more than {NAME_MAX} characters")
    tag = match.group("tag") or ""
    digest = match.group("digest") or ""
    if digest.startswith("sha256:") and not _SHA256.match(digest):
        raise ReferenceError(f"invalid digest in {text!r}: sha256 needs 64 lower-case hex")
    if not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(match.group("domain") or domain, match.group("path"), tag, digest)


def normalise(text: str) -> str:
    """The canonical string of a reference (docker.io/library/busybox:latest)."""
    return str(parse(text))
