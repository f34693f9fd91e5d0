"""A Helm post-renderer for the ScienceBox chart 0.0.8: what values cannot do.

1. Secrets the chart's templates hard-code, out of reach of any value, are
   replaced with the deployment's generated ones — the same values that
   values.py puts where the other end of each link reads them:
   - cernbox/templates/{gateway,authprovider-*,storageprovider-*}.yaml (revad TOML):
     `jwt_secret = "POZSOrl..."` (all revad services share it; oCIS gets it as
     OCIS_JWT_SECRET),
     `transfer_shared_secret = "replace-me-with-a-transfer-secret"` (gateway
     and datagateway; oCIS gets it as STORAGE_TRANSFER_SECRET),
     `api_key = "random_api_key"` (machine auth; oCIS: OCIS_MACHINE_AUTH_API_KEY),
     `bind_password = "readuser"` (LDAP cn=readuser; LDAP_READONLY_USER_PASSWORD),
     `db_password = "reva"` (MariaDB root; mariadb.auth.rootPassword).
   - ocis/templates/configmap-configfiles.yaml: the `swan` OIDC client's
     `secret: 4a045535-...` (SWAN: KeyCloakAuthenticator.client_secret).
   - ocis/templates/configmap-supervisord.yaml: `password=admin` (socket and
     supervisorctl, both in the same file).
2. Components switched off in the profile are dropped: the umbrella chart
   declares its dependencies without `condition:`, so only the rendered
   documents (`# Source: sciencebox/charts/<name>/...`) can be left out.
3. The scripts of the chart's two Jobs bring an existing deployment up to
   date when they run again (mboxed.sciencebox.job_scripts): the LDAP seeding
   goes on past entries that exist and modifies the users that changed; EOS
   configures every user's home and access on every run, its one-time
   bootstrap still once. The `sciencebox` step re-runs both Jobs when the
   users changed (mboxed.sciencebox.ldap_seed).

Helm hands the rendered manifests on stdin and applies what comes out on
stdout (`helm upgrade --install --post-renderer PATH`; Helm docs "Advanced
Helm Techniques: Post Rendering"). `write_post_renderer` makes that PATH: a
small executable that calls `main` with a 0600 JSON config beside it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mboxed.sciencebox.job_scripts import SCRIPT_EDITS

# (regex locating the hard-coded secret, the literal inside the match, the
# name of the generated secret that replaces that literal)
TEMPLATE_SECRETS: tuple[tuple[str, str, str], ...] = (
    (
        r'jwt_secret = "POZSOrlP7AgnTxH7MJebWV8ohvsApgbd4u3Joen30c"',
        "POZSOrlP7AgnTxH7MJebWV8ohvsApgbd4u3Joen30c",
        "reva_jwt_secret",
    ),
    (
        r'transfer_shared_secret = "replace-me-with-a-transfer-secret"',
        "replace-me-with-a-transfer-secret",
        "ocis_transfer_secret",
    ),
    (r'api_key = "random_api_key"', "random_api_key", "ocis_machine_auth_api_key"),
    (r'bind_password = "readuser"', "readuser", "ldap_readonly_password"),
    (r'db_password = "reva"', "reva", "mariadb_root_password"),
    (
        r"secret: 4a045535-6b99-49d3-bf41-8b410cd965a6",
        "4a045535-6b99-49d3-bf41-8b410cd965a6",
        "swan_oidc_client_secret",
    ),
    (r"(?m)^[ \t]*password=admin(?=\s)", "admin", "supervisord_password"),
)

# Literals that must not be in the output once rewritten (for checks and tests).
TEMPLATE_DEFAULT_LITERALS: tuple[str, ...] = (
    "POZSOrlP7AgnTxH7MJebWV8ohvsApgbd4u3Joen30c",
    "replace-me-with-a-transfer-secret",
    "random_api_key",
    'bind_password = "readuser"',
    'db_password = "reva"',
    "4a045535-6b99-49d3-bf41-8b410cd965a6",
    "password=admin ",
)

COMPONENT_SOURCES = {
    "swan": "sciencebox/charts/swan/",
    "cernbox": "sciencebox/charts/cernbox/",
}

_SOURCE = re.compile(r"^# Source: (\S+)", re.MULTILINE)
_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


def make_config(secrets: Mapping[str, str], components: Mapping[str, bool]) -> dict[str, Any]:
    replacements = [
        [pattern, literal, secrets[name]] for pattern, literal, name in TEMPLATE_SECRETS
    ]
    drop = [source for name, source in COMPONENT_SOURCES.items() if not components.get(name, True)]
    edits = [list(edit) for edit in SCRIPT_EDITS]
    return {"replacements": replacements, "drop_sources": drop, "edits": edits}


def split_documents(stream: str) -> list[str]:
    return [doc for doc in _SEPARATOR.split(stream) if doc.strip()]


def source_of(doc: str) -> str:
    """The template a rendered document came from (Helm's `# Source:` line)."""
    match = _SOURCE.search(doc)
    return match.group(1) if match else ""


def _replacer(old: str, new: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return match.group(0).replace(old, new)

    return replace


def render(stream: str, config: Mapping[str, Any]) -> str:
    drop: Sequence[str] = config.get("drop_sources", [])
    kept: list[str] = []
    for doc in split_documents(stream):
        source = _SOURCE.search(doc)
        if source and any(source.group(1).startswith(prefix) for prefix in drop):
            continue
        for pattern, literal, value in config.get("replacements", []):
            doc = re.sub(pattern, _replacer(str(literal), str(value)), doc)
        for edit_source, pattern, replacement in config.get("edits", []):
            if source and source.group(1) == edit_source:
                doc = re.sub(pattern, replacement, doc)
        kept.append(doc.strip("\n"))
    return "".join(f"---\n{doc}\n" for doc in kept)


def leftover_defaults(stream: str) -> list[str]:
    """Chart default secrets still present in rendered manifests."""
    return [literal for literal in TEMPLATE_DEFAULT_LITERALS if literal in stream]


def write_post_renderer(directory: Path, config: Mapping[str, Any]) -> Path:
    """Write `<directory>/postrender.json` (0600) and the executable Helm calls."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    config_path = directory / "postrender.json"
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        json.dump(config, handle)
    script = directory / "postrender"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "from mboxed.sciencebox.postrender import main\n"
        f"sys.exit(main([{str(config_path)!r}]))\n",
        encoding="utf-8",
    )
    script.chmod(0o700)
    return script


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: postrender CONFIG.json < manifests > manifests", file=sys.stderr)
        return 2
    config = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    sys.stdout.write(render(sys.stdin.read(), config))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
