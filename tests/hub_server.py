"""A small Hugging Face Hub-compatible HTTP server for tests (stdlib only, 127.0.0.1, random free port).

It implements the part of the Hub API that `huggingface_hub` (create_repo, upload_folder, hf_hub_download,
snapshot_download, HfFileSystem), `transformers` (`from_pretrained`) and `datasets` (`push_to_hub`,
`load_dataset`) call: `whoami-v2`, `repos/create`, `validate-yaml`, repo info, `tree`, `paths-info`, `refs`,
`commits`, `preupload`, the NDJSON `commit`, the git-LFS batch endpoint with basic PUT uploads, and `resolve`
(HEAD, GET, single byte ranges). Commits are real snapshots (path -> blob), blobs are content-addressed files in
a temp dir. Xet is not offered, so clients must run with `HF_HUB_DISABLE_XET=1`.

    with HubServer() as hub:
        env = hub.client_env(cache_dir)   # HF_ENDPOINT, HF_HUB_DISABLE_XET=1, HF_HUB_OFFLINE=0, HF_HOME, HF_TOKEN
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["HubServer", "HubError"]

USER = "tester"
TOKEN = "hf_test_token"
PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
# Files the real Hub stores with git-LFS whatever their size (its default .gitattributes patterns).
LFS_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".parquet",
    ".arrow",
    ".npy",
    ".npz",
    ".h5",
    ".onnx",
    ".msgpack",
    ".zip",
    ".gz",
    ".tar",
    ".mp4",
    ".avi",
    ".mkv",
    ".webm",
)
LFS_SIZE = 10 * 1024 * 1024
GITATTRIBUTES = "".join(f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n" for suffix in LFS_SUFFIXES).encode()


class HubError(Exception):
    """An HTTP error with the Hub's `X-Error-Code` header (RepoNotFound, RevisionNotFound, EntryNotFound...)."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def _git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class _Repo:
    def __init__(self, repo_type: str, repo_id: str, private: bool):
        self.repo_type, self.repo_id, self.private = repo_type, repo_id, private
        self.created = _now()
        self.commits: dict[str, dict] = {}  # sha -> {"tree": {path: entry}, "title", "date", "parent"}
        self.history: list[str] = []  # commit shas, oldest first
        self.head: str | None = None


class HubServer:
    """The server: start with `with HubServer() as hub` (or `start()`/`stop()`); `hub.url` is the endpoint."""

    def __init__(self):
        self._tmp = tempfile.mkdtemp(prefix="momentzoo-hub-")
        self.blob_dir = Path(self._tmp) / "blobs"
        self.blob_dir.mkdir()
        self.repos: dict[tuple[str, str], _Repo] = {}
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status), for assertions and debugging
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> HubServer:
        handler = type("_BoundHandler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def client_env(self, home: str | os.PathLike, base: dict | None = None) -> dict[str, str]:
        """Environment for a client process talking to this server, with its own empty cache under `home`."""
        env = dict(os.environ if base is None else base)
        for key in (
            "HF_HUB_OFFLINE",
            "HF_DATASETS_OFFLINE",
            "TRANSFORMERS_OFFLINE",
            "HF_HUB_CACHE",
            "HF_DATASETS_CACHE",
            "HUGGINGFACE_HUB_CACHE",
        ):
            env.pop(key, None)
        env.update(
            HF_ENDPOINT=self.url,
            HF_HUB_DISABLE_XET="1",
            HF_HUB_OFFLINE="0",
            HF_DATASETS_OFFLINE="0",
            HF_HOME=str(home),
            HF_TOKEN=TOKEN,
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HUB_DISABLE_PROGRESS_BARS="1",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        return env

    # --- storage ---------------------------------------------------------------------------------------------
    def _put_blob(self, content: bytes) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        path = self.blob_dir / sha256
        if not path.exists():
            tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_bytes(content)
            tmp.replace(path)
        return sha256

    def _has_blob(self, sha256: str) -> bool:
        return re.fullmatch(r"[0-9a-f]{64}", sha256) is not None and (self.blob_dir / sha256).is_file()

    def _file_entry(self, content_sha256: str, size: int, lfs: bool, content: bytes | None = None) -> dict:
        if lfs:
            oid = _git_blob_oid(_lfs_pointer(content_sha256, size))
        else:
            oid = _git_blob_oid(content if content is not None else (self.blob_dir / content_sha256).read_bytes())
        return {"sha256": content_sha256, "size": size, "lfs": lfs, "oid": oid}

    def _commit(self, repo: _Repo, tree: dict, title: str) -> str:
        parent = repo.head or ""
        payload = json.dumps(
            {
                "parent": parent,
                "title": title,
                "tree": sorted((p, e["oid"]) for p, e in tree.items()),
                "n": len(repo.history),
            }
        )
        sha = hashlib.sha1(payload.encode()).hexdigest()
        repo.commits[sha] = {"tree": tree, "title": title, "date": _now(), "parent": parent}
        repo.history.append(sha)
        repo.head = sha
        return sha

    def create_repo(self, repo_type: str, repo_id: str, private: bool = False) -> tuple[_Repo, bool]:
        with self._lock:
            key = (repo_type, repo_id)
            if key in self.repos:
                return self.repos[key], False
            repo = _Repo(repo_type, repo_id, private)
            sha256 = self._put_blob(GITATTRIBUTES)
            tree = {".gitattributes": self._file_entry(sha256, len(GITATTRIBUTES), False, GITATTRIBUTES)}
            self._commit(repo, tree, "initial commit")
            self.repos[key] = repo
            return repo, True

    def get_repo(self, repo_type: str, repo_id: str) -> _Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, f"Repository {repo_id!r} ({repo_type}) not found", "RepoNotFound")
        return repo

    def resolve_revision(self, repo: _Repo, revision: str) -> str:
        if revision in ("main", "refs/heads/main"):
            return repo.head
        if revision in repo.commits:
            return revision
        raise HubError(404, f"Revision {revision!r} not found in {repo.repo_id}", "RevisionNotFound")

    def read_file(self, repo_type: str, repo_id: str, path: str, revision: str = "main") -> bytes:
        """The content of `path` in a repo (for assertions in tests)."""
        repo = self.get_repo(repo_type, repo_id)
        entry = repo.commits[self.resolve_revision(repo, revision)]["tree"].get(path)
        if entry is None:
            raise HubError(404, f"{path} not found", "EntryNotFound")
        return (self.blob_dir / entry["sha256"]).read_bytes()


def _split_repo(parts: list[str]) -> tuple[str, list[str]]:
    """`parts` starts with `namespace/name`; returns the repo id and the rest."""
    if len(parts) < 2:
        raise HubError(404, "expected a repo id 'namespace/name'", "RepoNotFound")
    return f"{parts[0]}/{parts[1]}", parts[2:]


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the Hub; every response carries a Content-Length

    def log_message(self, format, *args):  # silence the default stderr access log
        pass

    # --- plumbing --------------------------------------------------------------------------------------------
    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False) -> None:
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/json")
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)
        self.hub.requests.append((self.command, self.path, status))

    def _json(self, obj, status: int = 200, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        raw_parts = [p for p in url.path.split("/") if p]
        try:
            body = self._body() if self.command in ("POST", "PUT") else b""
            self._route(raw_parts, body)
        except HubError as err:
            headers = {"X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._send(err.status, json.dumps({"error": err.message}).encode(), headers, head=self.command == "HEAD")
        except Exception as err:  # a bug in the server: report it to the client instead of hanging
            self._send(500, json.dumps({"error": f"{type(err).__name__}: {err}"}).encode())

    do_GET = do_POST = do_PUT = do_HEAD = _dispatch

    def _require_token(self) -> None:
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            raise HubError(401, "Invalid credentials in Authorization header")

    # --- routing ---------------------------------------------------------------------------------------------
    def _route(self, parts: list[str], body: bytes) -> None:
        method = self.command
        if parts[:1] == ["api"]:
            rest = parts[1:]
            if rest == ["whoami-v2"] and method == "GET":
                self._require_token()
                return self._json(
                    {
                        "type": "user",
                        "name": USER,
                        "fullname": "Test User",
                        "orgs": [],
                        "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}},
                    }
                )
            if rest == ["repos", "create"] and method == "POST":
                return self._create_repo(json.loads(body or b"{}"))
            if rest == ["validate-yaml"] and method == "POST":
                return self._json({"errors": [], "warnings": []})
            if rest and rest[0] in ("models", "datasets", "spaces"):
                repo_type = rest[0][:-1]
                repo_id, tail = _split_repo(rest[1:])
                return self._repo_api(repo_type, repo_id, tail, body)
        if method == "PUT" and parts[:1] == ["lfs-objects"] and len(parts) == 2:
            return self._lfs_put(parts[1], body)
        # /{prefix}{namespace}/{name}.git/info/lfs/objects/batch and /{prefix}{namespace}/{name}/resolve/...
        repo_type = "model"
        if parts and parts[0] in ("datasets", "spaces"):
            repo_type, parts = parts[0][:-1], parts[1:]
        if len(parts) >= 2 and parts[1].endswith(".git") and parts[2:] == ["info", "lfs", "objects", "batch"]:
            return self._lfs_batch(repo_type, f"{parts[0]}/{parts[1][:-4]}", json.loads(body))
        if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
            return self._resolve(repo_type, f"{parts[0]}/{parts[1]}", unquote(parts[3]), unquote("/".join(parts[4:])))
        raise HubError(404, f"no route for {method} {self.path}")

    def _repo_api(self, repo_type: str, repo_id: str, tail: list[str], body: bytes) -> None:
        hub, method = self.hub, self.command
        with hub._lock:
            repo = hub.get_repo(repo_type, repo_id)
            if not tail or (tail[0] == "revision" and len(tail) >= 2):
                revision = unquote("/".join(tail[1:])) if tail else "main"
                return self._json(self._repo_info(repo, hub.resolve_revision(repo, revision)))
            action, args = tail[0], tail[1:]
            if action == "refs" and method == "GET":
                return self._json(
                    {
                        "branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": repo.head}],
                        "converts": [],
                        "tags": [],
                    }
                )
            if not args:
                raise HubError(404, f"no route for {method} {self.path}")
            revision = unquote(args[0])
            if action == "preupload" and method == "POST":
                self._require_token()
                hub.resolve_revision(repo, revision)
                return self._json(self._preupload(json.loads(body)))
            if action == "commit" and method == "POST":
                self._require_token()
                return self._json(self._commit(repo, revision, body))
            sha = hub.resolve_revision(repo, revision)
            tree = repo.commits[sha]["tree"]
            if action == "tree" and method == "GET":
                path = unquote("/".join(args[1:])).strip("/")
                recursive = self.query.get("recursive", ["false"])[0].lower() in ("1", "true")
                return self._json(self._list_tree(tree, path, recursive, sha))
            if action == "paths-info" and method == "POST":
                paths = self._form_or_json(body).get("paths", [])
                return self._json([e for p in paths if (e := self._path_entry(tree, p.strip("/"), sha))])
            if action == "commits" and method == "GET":
                shas = repo.history[: repo.history.index(sha) + 1][::-1]
                return self._json(
                    [
                        {
                            "id": s,
                            "title": repo.commits[s]["title"],
                            "message": "",
                            "authors": [{"user": USER}],
                            "date": repo.commits[s]["date"],
                        }
                        for s in shas
                    ]
                )
        raise HubError(404, f"no route for {method} {self.path}")

    def _form_or_json(self, body: bytes) -> dict:
        if self.headers.get("Content-Type", "").startswith("application/json"):
            data = json.loads(body)
            return {k: v if isinstance(v, list) else [v] for k, v in data.items()}
        return parse_qs(body.decode())

    # --- endpoints -------------------------------------------------------------------------------------------
    def _create_repo(self, payload: dict) -> None:
        self._require_token()
        name = payload.get("name") or ""
        namespace = payload.get("organization") or USER
        repo_type = payload.get("type") or "model"
        if repo_type not in PREFIXES or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name):
            raise HubError(400, f"invalid repo type {repo_type!r} or name {name!r}")
        repo_id = f"{namespace}/{name}"
        _, created = self.hub.create_repo(repo_type, repo_id, private=payload.get("visibility") == "private")
        url = f"{self.hub.url}/{PREFIXES[repo_type]}{repo_id}"
        if not created:
            return self._json({"error": "You already created this repo", "url": url}, status=409)
        self._json({"url": url, "name": repo_id, "id": repo_id})

    def _repo_info(self, repo: _Repo, sha: str) -> dict:
        tree = repo.commits[sha]["tree"]
        siblings = [
            {
                "rfilename": p,
                "size": e["size"],
                **({"lfs": {"sha256": e["sha256"], "size": e["size"], "pointerSize": 134}} if e["lfs"] else {}),
            }
            for p, e in sorted(tree.items())
        ]
        card_data = {}
        if "README.md" in tree:
            card_data = self._card_data((self.hub.blob_dir / tree["README.md"]["sha256"]).read_text("utf-8"))
        return {
            "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": sha,
            "private": repo.private,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": list(card_data.get("tags") or []),
            # the Hub reads these from the card's metadata (transformers' pipeline() infers the task from them)
            "pipeline_tag": card_data.get("pipeline_tag"),
            "library_name": card_data.get("library_name"),
            "cardData": card_data,
            "siblings": siblings,
            "createdAt": repo.created,
            "lastModified": repo.commits[sha]["date"],
            "usedStorage": sum(e["size"] for e in tree.values()),
        }

    @staticmethod
    def _card_data(readme: str) -> dict:
        match = re.match(r"^---\s*\n(.*?)\n---\s*\n", readme, flags=re.S)
        if not match:
            return {}
        import yaml  # a dependency of momentzoo and of huggingface_hub's card code

        data = yaml.safe_load(match.group(1))
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _entry_json(path: str, entry: dict, sha: str) -> dict:
        if entry.get("type") == "directory":
            return {"type": "directory", "oid": entry["oid"], "size": 0, "path": path}
        out = {
            "type": "file",
            "oid": entry["oid"],
            "size": entry["size"],
            "path": path,
            "lastCommit": {"id": sha, "title": "", "date": _now()},
        }
        if entry["lfs"]:
            out["lfs"] = {
                "oid": entry["sha256"],
                "size": entry["size"],
                "pointerSize": len(_lfs_pointer(entry["sha256"], entry["size"])),
            }
        return out

    @staticmethod
    def _directories(tree: dict) -> set[str]:
        dirs = set()
        for path in tree:
            parts = path.split("/")[:-1]
            dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return dirs

    def _dir_entry(self, path: str) -> dict:
        return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest()}

    def _path_entry(self, tree: dict, path: str, sha: str) -> dict | None:
        if path in tree:
            return self._entry_json(path, tree[path], sha)
        if path in self._directories(tree):
            return self._entry_json(path, self._dir_entry(path), sha)
        return None

    def _list_tree(self, tree: dict, path: str, recursive: bool, sha: str) -> list[dict]:
        dirs = self._directories(tree)
        if path and path not in dirs:
            raise HubError(404, f"{path} is not a folder of this revision", "EntryNotFound")
        prefix = f"{path}/" if path else ""
        items = [(p, tree[p]) for p in tree] + [(d, self._dir_entry(d)) for d in dirs]
        out = []
        for p, entry in sorted(items):
            if not p.startswith(prefix) or p == path:
                continue
            if not recursive and "/" in p[len(prefix) :]:
                continue
            out.append(self._entry_json(p, entry, sha))
        return out

    def _preupload(self, payload: dict) -> dict:
        files = []
        for item in payload.get("files", []):
            sample = base64.b64decode(item.get("sample", ""))
            lfs = item["path"].endswith(LFS_SUFFIXES) or item["size"] >= LFS_SIZE or b"\0" in sample
            files.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False})
        return {"files": files, "commitOid": None}

    def _lfs_batch(self, repo_type: str, repo_id: str, payload: dict) -> None:
        self._require_token()
        self.hub.get_repo(repo_type, repo_id)
        if payload.get("operation") != "upload":
            raise HubError(400, "only the upload operation is supported")
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj["oid"], int(obj["size"])
            if self.hub._has_blob(oid):
                objects.append({"oid": oid, "size": size})  # already stored: no actions, nothing to upload
            else:
                objects.append(
                    {"oid": oid, "size": size, "actions": {"upload": {"href": f"{self.hub.url}/lfs-objects/{oid}"}}}
                )
        self._json(
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
            headers={"Content-Type": "application/vnd.git-lfs+json"},
        )

    def _lfs_put(self, oid: str, body: bytes) -> None:
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, f"uploaded content does not match sha256 {oid}")
        self.hub._put_blob(body)
        self._send(200)

    def _commit(self, repo: _Repo, revision: str, body: bytes) -> dict:
        hub = self.hub
        if self.query.get("create_pr", ["0"])[0] in ("1", "true"):
            raise HubError(400, "pull requests are not supported by this test server")
        if revision not in ("main", "refs/heads/main"):
            raise HubError(400, f"commits are only supported on 'main', got {revision!r}")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "the commit payload must start with a header line")
        header = lines[0]["value"]
        if header.get("parentCommit") not in (None, repo.head):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        tree = dict(repo.commits[repo.head]["tree"])
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            path = value.get("path", "").strip("/")
            if key == "file":
                content = (
                    base64.b64decode(value["content"])
                    if value.get("encoding") == "base64"
                    else value["content"].encode()
                )
                tree[path] = hub._file_entry(hub._put_blob(content), len(content), False, content)
            elif key == "lfsFile":
                if not hub._has_blob(value["oid"]):
                    raise HubError(422, f"LFS object {value['oid']} for {path} was never uploaded")
                size = (hub.blob_dir / value["oid"]).stat().st_size
                tree[path] = hub._file_entry(value["oid"], size, True)
            elif key == "deletedFile":
                if tree.pop(path, None) is None:
                    raise HubError(404, f"cannot delete {path}: no such file", "EntryNotFound")
            elif key == "deletedFolder":
                tree = {p: e for p, e in tree.items() if not p.startswith(path + "/")}
            else:
                raise HubError(400, f"unsupported commit operation {key!r}")
        sha = hub._commit(repo, tree, header.get("summary") or "")
        return {
            "success": True,
            "commitOid": sha,
            "pullRequestUrl": None,
            "commitUrl": f"{hub.url}/{PREFIXES[repo.repo_type]}{repo.repo_id}/commit/{sha}",
        }

    def _resolve(self, repo_type: str, repo_id: str, revision: str, path: str) -> None:
        hub, head = self.hub, self.command == "HEAD"
        with hub._lock:
            repo = hub.get_repo(repo_type, repo_id)
            sha = hub.resolve_revision(repo, revision)
            entry = repo.commits[sha]["tree"].get(path)
        if entry is None:
            raise HubError(404, f"{path} not found at {sha}", "EntryNotFound")
        content = (hub.blob_dir / entry["sha256"]).read_bytes()
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Repo-Commit": sha,
            "Accept-Ranges": "bytes",
            "ETag": f'"{entry["sha256"] if entry["lfs"] else entry["oid"]}"',
        }
        if entry["lfs"]:
            headers.update({"X-Linked-Etag": f'"{entry["sha256"]}"', "X-Linked-Size": str(entry["size"])})
        status = 200
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if match and content:
            start_s, end_s = match.groups()
            if start_s:
                start, end = int(start_s), min(int(end_s) if end_s else len(content) - 1, len(content) - 1)
            else:  # a suffix range: the last N bytes
                start, end = max(len(content) - int(end_s or 0), 0), len(content) - 1
            if start >= len(content) or start > end:
                raise HubError(416, f"range {self.headers['Range']} outside {len(content)} bytes")
            headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
            content, status = content[start : end + 1], 206
        self._send(status, content, headers, head=head)


def use_hub(monkeypatch, server: HubServer) -> HubServer:
    """Point this process's huggingface_hub at `server`: online, no Xet, the server as the default endpoint (also in
    the download URL template, which huggingface_hub builds from the endpoint at import)."""
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", server.url)
    monkeypatch.setattr(
        huggingface_hub.constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        server.url + "/{repo_id}/resolve/{revision}/{filename}",
    )
    return server
