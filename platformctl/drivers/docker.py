"""A tiny Docker Engine API client (GET /version, /info, /containers/json) over the daemon's socket.

No docker CLI or SDK: httpx with its unix-domain-socket transport. The endpoint follows the docker
CLI's rules: $DOCKER_HOST, else the current docker context's endpoint, else /var/run/docker.sock
(and Docker Desktop's ~/.docker/run/docker.sock when that does not exist).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformctl.errors import ClusterError, UsageError

if TYPE_CHECKING:
    import httpx

DEFAULT_SOCKET = "/var/run/docker.sock"


@dataclass(frozen=True)
class Endpoint:
    host: str  # as the user would write DOCKER_HOST (for messages)
    base_url: str
    uds: str | None = None
    tls: tuple[str, str, str] | None = None  # (ca, cert, key) when DOCKER_TLS_VERIFY is set


def _context_host(env: Mapping[str, str], home: Path) -> str | None:
    """The docker endpoint of the current docker context, if a non-default one is selected."""
    config_dir = Path(env.get("DOCKER_CONFIG") or home / ".docker")
    name = env.get("DOCKER_CONTEXT")
    if not name:
        try:
            name = json.loads((config_dir / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError):
            name = None
    if not name or name == "default":
        return None
    # docker/cli stores context metadata under contexts/meta/<sha256(name)>/meta.json.
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest() / "meta.json"
    try:
        host = json.loads(meta.read_text())["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(host) if host else None


def resolve_endpoint(env: Mapping[str, str] | None = None, home: Path | None = None) -> Endpoint:
    e = os.environ if env is None else env
    h = home or Path.home()
    host = e.get("DOCKER_HOST") or _context_host(e, h)
    if not host:
        desktop = h / ".docker" / "run" / "docker.sock"
        sock = DEFAULT_SOCKET if Path(DEFAULT_SOCKET).exists() or not desktop.exists() else str(desktop)
        host = "unix://" + sock
    if host.startswith("unix://"):
        return Endpoint(host, "http://docker", uds=host[len("unix://") :])
    if host.startswith("tcp://") or host.startswith("http://") or host.startswith("https://"):
        addr = host.split("://", 1)[1].rstrip("/")
        if e.get("DOCKER_TLS_VERIFY") or host.startswith("https://"):
            certs = Path(e.get("DOCKER_CERT_PATH") or h / ".docker")
            tls = (str(certs / "ca.pem"), str(certs / "cert.pem"), str(certs / "key.pem"))
            return Endpoint(host, f"https://{addr}", tls=tls)
        return Endpoint(host, f"http://{addr}")
    raise UsageError(
        f"DOCKER_HOST={host}: only unix:// and tcp:// endpoints are supported",
        hint="for ssh:// hosts, forward the socket (ssh -L /tmp/docker.sock:/var/run/docker.sock) "
        "and set DOCKER_HOST=unix:///tmp/docker.sock",
    )


class DockerClient:
    def __init__(self, endpoint: Endpoint | None = None, *, timeout: float = 5.0) -> None:
        self.endpoint = endpoint or resolve_endpoint()
        self.timeout = timeout

    def _client(self) -> httpx.Client:
        import httpx

        ep = self.endpoint
        if ep.uds:
            transport = httpx.HTTPTransport(uds=ep.uds)
            return httpx.Client(transport=transport, base_url=ep.base_url, timeout=self.timeout)
        if ep.tls:
            import ssl

            ctx = ssl.create_default_context(cafile=ep.tls[0])
            ctx.load_cert_chain(ep.tls[1], ep.tls[2])
            return httpx.Client(base_url=ep.base_url, timeout=self.timeout, verify=ctx)
        return httpx.Client(base_url=ep.base_url, timeout=self.timeout)

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        import httpx

        try:
            with self._client() as client:
                resp = client.get(path, params=params)
        except (httpx.HTTPError, OSError) as exc:
            raise ClusterError(
                f"Docker daemon not reachable at {self.endpoint.host}: {exc or type(exc).__name__}",
                hint="start Docker (Docker Desktop, or `sudo systemctl start docker`) and check that "
                "your user may use its socket (docker group) or set DOCKER_HOST",
            ) from None
        if resp.status_code != 200:
            raise ClusterError(
                f"Docker API GET {path} at {self.endpoint.host}: HTTP {resp.status_code}: {resp.text[:200]}"
            )
        try:
            return resp.json()
        except ValueError:
            raise ClusterError(f"Docker API GET {path} at {self.endpoint.host}: not JSON") from None

    def version(self) -> dict[str, Any]:
        data = self.get("/version")
        return data if isinstance(data, dict) else {}

    def info(self) -> dict[str, Any]:
        data = self.get("/info")
        return data if isinstance(data, dict) else {}

    def containers(self) -> list[dict[str, Any]]:
        """Running containers (GET /containers/json), for finding who publishes a host port."""
        data = self.get("/containers/json")
        return [c for c in data if isinstance(c, dict)] if isinstance(data, list) else []


def publisher_of(containers: list[dict[str, Any]], port: int) -> str | None:
    """Name of the running container publishing host ``port`` (kind's node publishes 80/443)."""
    for c in containers:
        for p in c.get("Ports") or []:
            if isinstance(p, dict) and p.get("PublicPort") == port:
                names = c.get("Names") or [c.get("Id", "?")[:12]]
                return str(names[0]).lstrip("/")
    return None


# -- images: pull, load, exec (pre-pull, caches, the bundle registry) ------------------------------
# Docker Engine API v1.41 (Docker 20.10): POST /images/create?fromImage=&tag= streams JSON progress
# lines ({"status"…} or {"errorDetail": {"message"}, "error"}); POST /images/load takes a
# `docker save` tar; POST /containers/{id}/exec + POST /exec/{id}/start + GET /exec/{id}/json run a
# command in a container (what `docker exec` does). https://docs.docker.com/engine/api/v1.41/


def split_reference(image: str) -> tuple[str, str]:
    """(fromImage, tag) for POST /images/create: the tag or ``sha256:…`` digest goes in ``tag``."""
    name, at, digest = image.partition("@")
    if at:
        return name.rsplit(":", 1)[0] if name.rfind(":") > name.rfind("/") else name, digest
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, "latest"


class ImageClient(DockerClient):
    """Long-running image operations; every call has a deadline (``timeout``, default 30 min)."""

    def __init__(self, endpoint: Endpoint | None = None, *, timeout: float = 1800.0) -> None:
        super().__init__(endpoint, timeout=timeout)

    def _stream_client(self) -> httpx.Client:
        import httpx

        client = self._client()
        client.timeout = httpx.Timeout(self.timeout, connect=10.0)
        return client

    def _fail(self, what: str, exc: BaseException) -> ClusterError:
        return ClusterError(f"Docker API {what} at {self.endpoint.host}: {exc or type(exc).__name__}")

    def pull(self, image: str) -> None:
        """``docker pull``: raises ClusterError with the daemon's message when the pull fails."""
        import httpx

        from_image, tag = split_reference(image)
        try:
            with (
                self._stream_client() as client,
                client.stream(
                    "POST",
                    "/images/create",
                    params={"fromImage": from_image, "tag": tag},
                    headers={"X-Registry-Auth": "e30="},  # base64("{}"): anonymous
                ) as resp,
            ):
                if resp.status_code != 200:
                    raise ClusterError(
                        f"docker pull {image}: HTTP {resp.status_code}: {resp.read().decode()[:300].strip()}"
                    )
                for line in resp.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(msg, dict) and (msg.get("error") or msg.get("errorDetail")):
                        detail = (msg.get("errorDetail") or {}).get("message") or msg.get("error")
                        raise ClusterError(f"docker pull {image}: {detail}")
        except (httpx.HTTPError, OSError) as exc:
            raise self._fail(f"pull {image}", exc) from None

    def exec(self, container: str, cmd: list[str]) -> tuple[int, str]:
        """Run ``cmd`` in ``container`` (``docker exec``); (exit code, combined output)."""
        import httpx

        try:
            with self._stream_client() as client:
                created = client.post(
                    f"/containers/{container}/exec",
                    json={"Cmd": cmd, "AttachStdout": True, "AttachStderr": True},
                )
                if created.status_code != 201:
                    raise ClusterError(
                        f"docker exec {container}: HTTP {created.status_code}: {created.text[:300].strip()}"
                    )
                exec_id = created.json()["Id"]
                started = client.post(f"/exec/{exec_id}/start", json={"Detach": False, "Tty": False})
                text = demux(started.content)
                info = client.get(f"/exec/{exec_id}/json").json()
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            raise self._fail(f"exec in {container}", exc) from None
        return int(info.get("ExitCode") or 0), text


def demux(raw: bytes) -> str:
    """Docker's multiplexed stdout/stderr stream (8-byte frame headers) as text."""
    out: list[bytes] = []
    i = 0
    while i + 8 <= len(raw) and raw[i] in (0, 1, 2) and raw[i + 1 : i + 4] == b"\0\0\0":
        size = int.from_bytes(raw[i + 4 : i + 8], "big")
        out.append(raw[i + 8 : i + 8 + size])
        i += 8 + size
    if i < len(raw):  # not multiplexed (a TTY) or a trailing partial frame
        out.append(raw[i:])
    return b"".join(out).decode("utf-8", "replace")


class EngineClient(ImageClient):
    """Containers, volumes and networks (the registry cache): POST /containers/create?name=,
    POST /containers/{id}/start, DELETE /containers/{id}?force=&v=, GET /containers/json?all=&filters=,
    POST /volumes/create, DELETE /volumes/{name}, GET /system/df, POST /networks/{id}/connect."""

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> tuple[int, Any]:
        import httpx

        try:
            with self._client() as client:
                resp = client.request(method, path, params=params, json=body)
        except (httpx.HTTPError, OSError) as exc:
            raise self._fail(f"{method} {path}", exc) from None
        if resp.status_code not in ok:
            try:
                message = resp.json().get("message") or resp.text
            except ValueError:
                message = resp.text
            raise ClusterError(
                f"Docker API {method} {path}: HTTP {resp.status_code}: {str(message)[:300].strip()}"
            )
        try:
            return resp.status_code, resp.json() if resp.content else None
        except ValueError:
            return resp.status_code, None

    def containers_labelled(self, label: str) -> list[dict[str, Any]]:
        _, data = self._call(
            "GET", "/containers/json", params={"all": "1", "filters": json.dumps({"label": [label]})}
        )
        return [c for c in data or [] if isinstance(c, dict)]

    def container_exists(self, name: str) -> bool:
        status, _ = self._call("GET", f"/containers/{name}/json", ok=(200, 404))
        return status == 200

    def network_exists(self, name: str) -> bool:
        status, _ = self._call("GET", f"/networks/{name}", ok=(200, 404))
        return status == 200

    def image_present(self, image: str) -> bool:
        status, _ = self._call("GET", f"/images/{image}/json", ok=(200, 404))
        return status == 200

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        self._call("POST", "/volumes/create", body={"Name": name, "Labels": dict(labels)})

    def remove_volume(self, name: str) -> bool:
        status, _ = self._call("DELETE", f"/volumes/{name}", ok=(204, 404))
        return status == 204

    def create_container(self, name: str, config: Mapping[str, Any]) -> str:
        _, data = self._call("POST", "/containers/create", params={"name": name}, body=dict(config))
        return str((data or {}).get("Id", name))

    def start_container(self, name: str) -> None:
        self._call("POST", f"/containers/{name}/start", ok=(204, 304))

    def remove_container(self, name: str) -> bool:
        status, _ = self._call("DELETE", f"/containers/{name}", params={"force": "1"}, ok=(204, 404))
        return status == 204

    def connect_network(self, network: str, container: str) -> None:
        """Attach ``container`` to ``network`` (already attached is fine)."""
        status, _ = self._call(
            "POST", f"/networks/{network}/connect", body={"Container": container}, ok=(200, 403)
        )
        if status == 403:  # "endpoint ... already exists in network": attached before
            return

    def volume_sizes(self) -> dict[str, int]:
        """Volume name → bytes used (GET /system/df; -1 when the daemon does not know)."""
        _, data = self._call("GET", "/system/df")
        out: dict[str, int] = {}
        for v in (data or {}).get("Volumes") or []:
            size = (v.get("UsageData") or {}).get("Size")
            out[str(v.get("Name"))] = int(size) if isinstance(size, int) else -1
        return out

    def load_image(self, archive: Path) -> None:
        """``docker load < archive`` (POST /images/load); raises with the daemon's message."""
        import httpx

        def body() -> Any:
            with archive.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    yield chunk

        try:
            with (
                self._stream_client() as client,
                client.stream(
                    "POST",
                    "/images/load",
                    params={"quiet": "1"},
                    headers={"Content-Type": "application/x-tar"},
                    content=body(),
                ) as resp,
            ):
                text = resp.read().decode(errors="replace")
        except (httpx.HTTPError, OSError) as exc:
            raise self._fail(f"load {archive}", exc) from None
        if resp.status_code != 200 or '"error' in text:
            raise ClusterError(f"docker load {archive}: HTTP {resp.status_code}: {text[:300].strip()}")

    def published_port(self, name: str, port: str) -> int | None:
        """The host port Docker published for ``port`` (e.g. ``5000/tcp``) of container ``name``."""
        _, data = self._call("GET", f"/containers/{name}/json")
        ports = ((data or {}).get("NetworkSettings") or {}).get("Ports") or {}
        for binding in ports.get(port) or []:
            host_port = str(binding.get("HostPort") or "")
            if host_port.isdigit():
                return int(host_port)
        return None
