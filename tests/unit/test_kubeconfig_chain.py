"""$KUBECONFIG with several files is merged exactly as kubectl merges it (issue 9 item 1), and a bad
kubeconfig names the field at fault (item 7)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import yaml

from platformctl.drivers import kubeconfig as kc
from platformctl.drivers.kube.connect import load_client
from platformctl.errors import ClusterError, ConfigError
from tests.fakeapi import FakeApiServer
from tests.support.cli_main import run_main


def _config(
    *,
    clusters: dict[str, dict[str, object]] | None = None,
    users: dict[str, dict[str, object]] | None = None,
    contexts: dict[str, tuple[str, str]] | None = None,
    current: str | None = None,
) -> str:
    data: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in (clusters or {}).items()],
        "users": [{"name": n, "user": u} for n, u in (users or {}).items()],
        "contexts": [
            {"name": n, "context": {"cluster": c, "user": u}} for n, (c, u) in (contexts or {}).items()
        ],
    }
    if current is not None:
        data["current-context"] = current
    return yaml.safe_dump(data)


def test_chain_splits_on_pathsep_drops_empty_and_repeated_entries(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    env = {"KUBECONFIG": os.pathsep.join(["", str(a), str(b), str(a), ""])}
    assert kc.kubeconfig_chain(env) == [a, b]
    assert kc.kubeconfig_chain({"KUBECONFIG": ""}) == [Path.home() / ".kube" / "config"]


def test_first_file_that_defines_a_name_wins_whole_entry_and_current_context(tmp_path: Path) -> None:
    a, b, missing = tmp_path / "a", tmp_path / "b", tmp_path / "missing"
    a.write_text(_config(clusters={"c": {"server": "https://127.0.0.1:1"}}, current=""))
    b.write_text(
        _config(
            clusters={
                "c": {"server": "https://127.0.0.1:2", "insecure-skip-tls-verify": True},
                "d": {"server": "https://127.0.0.1:3", "certificate-authority": "ca.crt"},
            },
            users={"u": {"token": "t"}},
            contexts={"ctx": ("c", "u")},
            current="ctx",
        )
    )
    merged, origin = kc.merge_chain([missing, a, b])
    clusters = {c["name"]: c["cluster"] for c in merged["clusters"]}
    # the first file's "c" is taken whole: b's extra field is not merged into it
    assert clusters["c"] == {"server": "https://127.0.0.1:1"}
    # relative paths resolve against the directory of the file that names them
    assert clusters["d"]["certificate-authority"] == str(tmp_path / "ca.crt")
    assert merged["current-context"] == "ctx"  # a's empty one does not count
    assert origin == {"ctx": b}


def test_current_context_comes_from_the_first_file_that_sets_one(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text(_config(contexts={"one": ("c", "u")}, current="one"))
    b.write_text(_config(contexts={"two": ("c", "u")}, current="two"))
    assert kc.merge_chain([a, b])[0]["current-context"] == "one"
    assert kc.merge_chain([b, a])[0]["current-context"] == "two"


def test_writes_go_where_kubectl_writes_them(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    # none exists: the last file of the list is created
    assert kc.write_destination([a, b], "contexts", "kind-x") == b
    assert kc.default_kubeconfig_path({"KUBECONFIG": os.pathsep.join([str(a), str(b)])}) == b
    # new entries go to the first file that exists
    b.write_text(_config(contexts={"other": ("c", "u")}))
    c.write_text(_config(contexts={"kind-x": ("c", "u")}, current="other"))
    assert kc.write_destination([a, b, c], "contexts", "new") == b
    # an existing entry is modified in the file that defines it
    assert kc.write_destination([a, b, c], "contexts", "kind-x") == c
    # current-context is written to the first file that sets one (a later one would be shadowed)
    assert kc.set_current_context([a, b, c], "kind-x", fallback=b) == c
    assert yaml.safe_load(c.read_text())["current-context"] == "kind-x"
    assert "current-context" not in yaml.safe_load(b.read_text()) or not yaml.safe_load(b.read_text()).get(
        "current-context"
    )


def test_load_client_merges_the_kubeconfig_list(
    fake_api: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # file a: only an unrelated context, no current-context; file b: the fake API server's context
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text(_config(clusters={"x": {"server": "https://127.0.0.1:9"}}, contexts={"x": ("x", "")}))
    b.write_text(fake_api.kubeconfig_text())
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(a), str(b)]))
    client, server, context = load_client(None, None)
    assert (server, context) == (fake_api.url, fake_api.context)
    client.close()
    # --kubeconfig is one file: the list is not split
    with pytest.raises(ConfigError, match="not found"):
        load_client(os.pathsep.join([str(a), str(b)]), None)


def test_status_with_a_kubeconfig_list_reaches_the_cluster(fake_api: FakeApiServer, tmp_path: Path) -> None:
    # Regression: `KUBECONFIG=a:b platformctl status` failed with "kubeconfig a:b not found".
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text(_config())
    b.write_text(fake_api.kubeconfig_text())
    spec = tmp_path / "platform.yaml"
    spec.write_text("cluster:\n  provider: existing\ndomain: example.com\n")
    ran = run_main(["-f", str(spec), "status", "-o", "json"], env={"KUBECONFIG": f"{a}{os.pathsep}{b}"})
    # nothing is installed on the fake cluster: status answers, and exits 1 (components not healthy)
    assert ran.exit_code == 1 and "not healthy" in ran.stderr and "not found" not in ran.stderr, ran.output
    assert json.loads(ran.stdout)["context"] == fake_api.context
    assert fake_api.request_count > 0
    # the flag is one path and is never split
    ran = run_main(["-f", str(spec), "--kubeconfig", f"{a}{os.pathsep}{b}", "status"])
    assert ran.exit_code == 2 and "not found" in ran.stderr


def test_context_pointing_at_a_missing_user_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(
        _config(
            clusters={"c": {"server": "https://127.0.0.1:9"}}, contexts={"ctx": ("c", "ghost")}, current="ctx"
        )
    )
    with pytest.raises(ConfigError, match=r"context 'ctx' points at user 'ghost', which is not in users"):
        load_client(str(cfg), None)


@pytest.mark.parametrize("data", ["not base64!", base64.b64encode(b"not a certificate").decode()])
def test_bad_certificate_authority_data_names_the_field(tmp_path: Path, data: str) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(
        _config(
            clusters={"c": {"server": "https://127.0.0.1:9", "certificate-authority-data": data}},
            users={"u": {"token": "t"}},
            contexts={"ctx": ("c", "u")},
            current="ctx",
        )
    )
    with pytest.raises(
        ConfigError, match=r"clusters\[c\]\.certificate-authority-data is not base64 of a PEM"
    ):
        load_client(str(cfg), None)


def test_pem_that_is_not_a_certificate_names_the_field(tmp_path: Path) -> None:
    pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    cfg = tmp_path / "config"
    cfg.write_text(
        _config(
            clusters={
                "c": {
                    "server": "https://127.0.0.1:9",
                    "certificate-authority-data": base64.b64encode(pem).decode(),
                }
            },
            users={"u": {"token": "t"}},
            contexts={"ctx": ("c", "u")},
            current="ctx",
        )
    )
    with pytest.raises(ConfigError, match=r"clusters\[c\]\.certificate-authority-data is not a usable CA"):
        load_client(str(cfg), None)


def test_failing_exec_plugin_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(
        _config(
            clusters={"c": {"server": "https://127.0.0.1:9"}},
            users={
                "u": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "/bin/false",
                        "args": ["--login"],
                    }
                }
            },
            contexts={"ctx": ("c", "u")},
            current="ctx",
        )
    )
    with pytest.raises(ClusterError, match=r"exec credential plugin `/bin/false --login` failed"):
        load_client(str(cfg), None)
    assert capsys.readouterr().err == ""  # the client's root-logger line did not reach the terminal


def test_probe_makes_one_attempt_within_its_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression: urllib3's default Retry(3) under the probe made the documented 5 s timeout 20 s.
    # A loopback server that accepts and never answers; count the connections the probe opens.
    import socket
    import threading

    from platformctl.drivers.kube import connect

    monkeypatch.setattr(connect, "PROBE_TIMEOUT", 0.3)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    cfg = tmp_path / "config"
    cfg.write_text(
        _config(
            clusters={"c": {"server": f"http://127.0.0.1:{server.getsockname()[1]}"}},
            users={"u": {"token": "t"}},
            contexts={"ctx": ("c", "u")},
            current="ctx",
        )
    )
    client, server_url, context = load_client(str(cfg), None)
    try:
        with pytest.raises(ClusterError, match="cannot reach Kubernetes API server"):
            connect.probe(connect.KubeApi(client, server=server_url, context=context))
    finally:
        server.close()
        for conn in accepted:
            conn.close()
        client.close()
    assert len(accepted) == 1


def test_untrusted_server_certificate_names_the_kubeconfig_field() -> None:
    from platformctl.drivers.kube import connect
    from platformctl.drivers.kube.retry import ApiError

    class _Api:
        server, context = "https://127.0.0.1:6443", "kind-x"

        def request(self, *args: object, **kwargs: object) -> object:
            raise ApiError(
                "GET /version: cannot reach",
                status=0,
                server_message="[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed",
            )

    with pytest.raises(ClusterError, match="certificate-authority-data") as info:
        connect.probe(_Api())  # type: ignore[arg-type]
    assert "is the cluster running" not in (info.value.hint or "")
