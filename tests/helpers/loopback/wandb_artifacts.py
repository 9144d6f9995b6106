"""The artifact and run-file operations of the loopback WandB server (a mixin of `FakeWandb`).

Answer shapes follow the query text in the installed SDK (wandb>=0.31,<0.32): `RunOutputArtifacts` /
`RunInputArtifacts` (`wandb/sdk/artifacts/_generated/operations.py`, the `ArtifactFragment`), which
`Run.logged_artifacts()` / `used_artifacts()` send; `ArtifactMembershipFiles`, which `Artifact.files()`
sends; `RunFiles` (`wandb/apis/public/files.py`), which `Run.file(name)` sends before wandb-core downloads
the file's `url` (served here under `/runfiles/…`). The SDK validates the artifact answers with its
pydantic models, so a field it needs and we leave out fails loudly in the tests.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

# The features of `wandb_internal.ServerFeature` the artifact queries depend on, as a current server has them.
SERVER_FEATURES = ("ARTIFACT_DIGEST_ALGORITHM", "TOTAL_COUNT_IN_FILE_CONNECTION", "ARTIFACT_TAGS")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class FakeArtifact:
    """One artifact version as the server holds it; `files` maps a path to its bytes."""

    name: str
    type: str
    version_index: int
    digest: str
    direction: str = "logged"  # logged (an output of the run) | used (an input)
    aliases: list[str] = field(default_factory=lambda: ["latest"])
    files: dict[str, bytes] = field(default_factory=dict)
    metadata: str = "{}"
    created_at: str = "2025-12-22T19:30:00Z"

    @property
    def version(self) -> str:
        return f"v{self.version_index}"


class ArtifactOperations:
    """GraphQL handlers for artifacts and run files; `self` is the FakeWandb."""

    entity: str
    project: str
    runs: dict[str, Any]
    url: str

    def _project_info(self) -> dict[str, Any]:
        return {"id": b64(f"Project:{self.project}"), "internalId": b64("Project:1"), "name": self.project,
                "entity": {"name": self.entity}}

    def _artifact_node(self, artifact: FakeArtifact) -> dict[str, Any]:
        collection = {"__typename": "ArtifactSequence", "name": artifact.name, "project": self._project_info()}
        aliases = [*artifact.aliases, artifact.version]
        return {
            "__typename": "Artifact",
            "id": b64(f"Artifact:{artifact.name}:{artifact.version}"),
            "artifactSequence": collection,
            "versionIndex": artifact.version_index,
            "artifactType": {"name": artifact.type},
            "description": None,
            "metadata": artifact.metadata,
            "ttlDurationSeconds": -1,
            "ttlIsInherited": True,
            "tags": [],
            "historyStep": None,
            "state": "COMMITTED",
            "size": sum(len(data) for data in artifact.files.values()),
            "digest": artifact.digest,
            "digestAlgorithm": "MANIFEST_MD5",
            "commitHash": artifact.digest[:12],
            "fileCount": len(artifact.files),
            "createdAt": artifact.created_at,
            "updatedAt": artifact.created_at,
            "aliases": [{"__typename": "ArtifactAlias", "id": b64(f"Alias:{artifact.name}:{alias}"), "alias": alias,
                         "artifactCollection": collection} for alias in aliases],
        }

    def _run_artifacts(self, variables: dict, direction: str) -> dict:
        run = self._run(variables)  # type: ignore[attr-defined]
        if run is None:
            return {"project": {"run": None}}
        mine = [a for a in run.artifacts if a.direction == direction]
        start = int(variables.get("cursor") or 0)
        per_page = int(variables.get("perPage") or 50)
        page = mine[start : start + per_page]
        return {"project": {"run": {"artifacts": {
            "totalCount": len(mine),
            "pageInfo": {"__typename": "PageInfo", "endCursor": str(start + len(page)),
                         "hasNextPage": start + per_page < len(mine)},
            "edges": [{"node": self._artifact_node(a)} for a in page],
        }}}}

    def _op_ServerFeaturesQuery(self, _: dict) -> dict:
        # The SDK asks before listing artifacts which fields it may request (digestAlgorithm, totalCount).
        return {"serverInfo": {"features": [{"name": name, "isEnabled": True} for name in SERVER_FEATURES]}}

    def _op_RunOutputArtifacts(self, variables: dict) -> dict:
        return self._run_artifacts(variables, "logged")

    def _op_RunInputArtifacts(self, variables: dict) -> dict:
        return self._run_artifacts(variables, "used")

    def _find_artifact(self, collection: str, alias: str) -> tuple[Any, FakeArtifact] | None:
        for run in self.runs.values():
            for artifact in run.artifacts:
                if artifact.name == collection and alias in (artifact.version, *artifact.aliases):
                    return run, artifact
        return None

    def _op_ArtifactMembershipFiles(self, variables: dict) -> dict:
        found = self._find_artifact(variables.get("collection", ""), variables.get("alias", ""))
        if found is None:
            return {"project": {"artifactCollection": None}}
        _run, artifact = found
        names = sorted(artifact.files)
        if variables.get("fileNames"):
            names = [n for n in names if n in variables["fileNames"]]
        start = int(variables.get("cursor") or 0)
        per_page = int(variables.get("perPage") or 50)
        page = names[start : start + per_page]
        url = f"{self.url}/artifactfiles/{artifact.name}/{artifact.version}"
        nodes = [{
            "__typename": "File", "id": b64(f"File:{artifact.name}:{name}"), "name": name, "url": f"{url}/{name}",
            "sizeBytes": len(artifact.files[name]), "storagePath": None, "mimetype": None,
            "updatedAt": artifact.created_at, "digest": base64.b64encode(hashlib.md5(artifact.files[name]).digest()
                                                                         ).decode(),
            "md5": base64.b64encode(hashlib.md5(artifact.files[name]).digest()).decode(),
            "directUrl": f"{url}/{name}",
        } for name in page]
        return {"project": {"artifactCollection": {
            "__typename": "ArtifactSequence",
            "artifactMembership": {"files": {
                "totalCount": len(names),
                "pageInfo": {"__typename": "PageInfo", "endCursor": str(start + len(page)),
                             "hasNextPage": start + per_page < len(names)},
                "edges": [{"node": node} for node in nodes],
            }},
        }}}

    def _op_RunFiles(self, variables: dict) -> dict:
        run = self._run(variables)  # type: ignore[attr-defined]
        if run is None:
            return {"project": {"internalId": b64("Project:1"), "run": None}}
        names = [n for n in (variables.get("fileNames") or sorted(run.files)) if n in run.files]
        edges = [{"node": {
            "id": b64(f"File:{run.run_id}:{name}"), "name": name,
            "url": f"{self.url}/runfiles/{self.entity}/{self.project}/{run.run_id}/{name}",
            "directUrl": f"{self.url}/runfiles/{self.entity}/{self.project}/{run.run_id}/{name}",
            "sizeBytes": len(run.files[name]), "mimetype": "application/json", "updatedAt": "2025-12-22T19:30:00Z",
            "md5": base64.b64encode(hashlib.md5(run.files[name]).digest()).decode(),
        }, "cursor": name} for name in names]
        return {"project": {"internalId": b64("Project:1"), "run": {
            "fileCount": len(run.files),
            "files": {"edges": edges, "pageInfo": {"endCursor": names[-1] if names else None, "hasNextPage": False}},
        }}}

    def run_file(self, run_id: str, name: str) -> bytes | None:
        run = self.runs.get(run_id)
        return run.files.get(name) if run else None
