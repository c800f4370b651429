"""Private model storage: the credentials Secret and the ServiceAccount a model's predictor runs as.

KServe's storage initializer finds credentials through the predictor's ServiceAccount (its
``secrets[]``), reads S3 settings from the Secret's annotations and the credentials from its keys
(kserve/kserve@v0.16.0 pkg/credentials/s3/s3_secret.go; the key names are the defaults of the
``credentials`` section of the ``inferenceservice-config`` ConfigMap in the pinned kserve.yaml:
``s3AccessKeyIDName: AWS_ACCESS_KEY_ID``, ``s3SecretAccessKeyName: AWS_SECRET_ACCESS_KEY``,
``gcsCredentialFileName: gcloud-application-credentials.json``).

Credentials are read from the environment variables the user names (never from flags), go into
the Secret object that is applied, and nowhere else: the objects a result carries are redacted.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformctl.errors import UsageError

# Annotations KServe reads from an S3 credentials Secret (kserve/kserve@v0.16.0
# pkg/credentials/s3/s3_secret.go: InferenceServiceS3SecretEndpointAnnotation, ...RegionAnnotation,
# ...HttpsAnnotation, ...SSLAnnotation; values "1"/"0" per the KServe S3 storage docs).
S3_ENDPOINT_ANNOTATION = "serving.kserve.io/s3-endpoint"
S3_REGION_ANNOTATION = "serving.kserve.io/s3-region"
S3_USE_HTTPS_ANNOTATION = "serving.kserve.io/s3-usehttps"
S3_VERIFY_SSL_ANNOTATION = "serving.kserve.io/s3-verifyssl"
S3_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
S3_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
GCS_CREDENTIALS_KEY = "gcloud-application-credentials.json"
REDACTED = "<redacted>"
SECRET_TEMPLATE = "models/storage-secret.yaml.j2"
ACCOUNT_TEMPLATE = "models/serviceaccount.yaml.j2"

_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@dataclass
class StorageRequest:
    secret: str | None = None  # --storage-secret: an existing Secret
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_access_key_id_env: str | None = None
    s3_secret_access_key_env: str | None = None
    s3_use_https: bool | None = None
    s3_verify_ssl: bool | None = None
    gcs_credentials_file: Path | None = None

    @property
    def s3(self) -> bool:
        return any(
            v is not None
            for v in (
                self.s3_endpoint,
                self.s3_region,
                self.s3_access_key_id_env,
                self.s3_secret_access_key_env,
                self.s3_use_https,
                self.s3_verify_ssl,
            )
        )

    @property
    def gcs(self) -> bool:
        return self.gcs_credentials_file is not None

    @property
    def given(self) -> bool:
        return self.secret is not None or self.s3 or self.gcs


@dataclass
class StorageObjects:
    account_name: str
    secret_name: str
    secret: dict[str, Any] | None  # None: --storage-secret names an existing Secret
    account: dict[str, Any]
    scheme: str  # the storage URI scheme these credentials are for ("s3", "gs", or "" for any)

    def objects(self) -> list[dict[str, Any]]:
        return ([self.secret] if self.secret else []) + [self.account]

    def redacted(self) -> list[dict[str, Any]]:
        return [redact(o) for o in self.objects()]


def redact(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` with every Secret value replaced by ``<redacted>`` (other kinds unchanged)."""
    out = copy.deepcopy(obj)
    if out.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(out.get(key), dict):
                out[key] = dict.fromkeys(out[key], REDACTED)
    return out


def _env_value(environ: Mapping[str, str], var: str | None, flag: str) -> str:
    if var is None:
        raise UsageError(
            f"{flag} is required with the other --s3-* flags (the NAME of an environment variable)"
        )
    if not _ENV_VAR.fullmatch(var):
        raise UsageError(f"{flag}: {var!r} is not an environment variable name (the flag takes its NAME)")
    value = environ.get(var)
    if not value:
        raise UsageError(f"{flag}: environment variable {var} is not set (export it, or name another one)")
    return value


def _endpoint(value: str) -> tuple[str, bool | None]:
    """``HOST[:PORT]`` for the annotation, and https-ness when a URL scheme was given."""
    scheme, sep, rest = value.partition("://")
    host, https = (rest, scheme == "https") if sep else (value, None)
    if sep and scheme not in ("http", "https"):
        raise UsageError(f"--s3-endpoint: {value!r}: use HOST[:PORT] or http(s)://HOST[:PORT]")
    host = host.rstrip("/")
    if not _HOST_PORT.fullmatch(host):
        raise UsageError(f"--s3-endpoint: {value!r}: use HOST[:PORT] or http(s)://HOST[:PORT]")
    return host, https


def validate_local(req: StorageRequest) -> None:
    """Checks that need neither the environment's values nor the cluster."""
    kinds = [
        k
        for k, on in (
            ("--storage-secret", req.secret is not None),
            ("--s3-*", req.s3),
            ("--gcs-credentials-file", req.gcs),
        )
        if on
    ]
    if len(kinds) > 1:
        raise UsageError(
            f"{kinds[1]}: cannot be combined with {kinds[0]}; choose one way to give credentials"
        )
    if req.secret is not None and (len(req.secret) > 253 or not _SECRET_NAME.fullmatch(req.secret)):
        raise UsageError(f"--storage-secret: {req.secret!r} is not a Secret name (DNS-1123 subdomain)")
    if req.s3_endpoint is not None:
        _endpoint(req.s3_endpoint)
    if req.s3_region is not None and not _REGION.fullmatch(req.s3_region):
        raise UsageError(f"--s3-region: {req.s3_region!r} is not a region name (e.g. us-east-1)")


def build_storage(
    req: StorageRequest, *, model: str, namespace: str, environ: Mapping[str, str]
) -> StorageObjects | None:
    """The Secret (unless --storage-secret) and ServiceAccount for ``model``; None when no flag asks."""
    from platformctl.drivers.templates import render_template

    validate_local(req)
    if not req.given:
        return None
    account = f"{model}-sa"
    secret_name = req.secret or f"{model}-storage"
    annotations: dict[str, str] = {}
    data: dict[str, str] = {}
    scheme = ""
    if req.s3:
        scheme = "s3"
        data[S3_ACCESS_KEY_ID] = _env_value(environ, req.s3_access_key_id_env, "--s3-access-key-id-env")
        data[S3_SECRET_ACCESS_KEY] = _env_value(
            environ, req.s3_secret_access_key_env, "--s3-secret-access-key-env"
        )
        https = req.s3_use_https
        if req.s3_endpoint is not None:
            host, from_url = _endpoint(req.s3_endpoint)
            annotations[S3_ENDPOINT_ANNOTATION] = host
            https = from_url if https is None else https
        if req.s3_region is not None:
            annotations[S3_REGION_ANNOTATION] = req.s3_region
        if https is not None:
            annotations[S3_USE_HTTPS_ANNOTATION] = "1" if https else "0"
        if req.s3_verify_ssl is not None:
            annotations[S3_VERIFY_SSL_ANNOTATION] = "1" if req.s3_verify_ssl else "0"
    elif req.gcs:
        scheme = "gs"
        path = req.gcs_credentials_file
        assert path is not None
        try:
            text = path.read_text(encoding="utf-8")
            parsed = json.loads(text)
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or type(exc).__name__
            raise UsageError(f"--gcs-credentials-file: cannot read {path} ({why})") from None
        except json.JSONDecodeError:
            raise UsageError(
                f"--gcs-credentials-file: {path} is not JSON (expected a service account key file)"
            ) from None
        if not isinstance(parsed, dict) or "type" not in parsed:
            raise UsageError(f'--gcs-credentials-file: {path} is not a service account key (no "type" field)')
        data[GCS_CREDENTIALS_KEY] = text
    values = {
        "model": model,
        "namespace": namespace,
        "secret_name": secret_name,
        "account_name": account,
        "annotations": annotations,
    }
    secret: dict[str, Any] | None = None
    if req.secret is None:
        (secret,) = render_template(SECRET_TEMPLATE, values)
        secret["stringData"] = data  # values never pass through YAML text or the template checks
    (sa,) = render_template(ACCOUNT_TEMPLATE, values)
    return StorageObjects(account, secret_name, secret, sa, scheme)


def check_scheme(storage: StorageObjects, storage_uri: str | None) -> None:
    """S3 credentials need an s3:// model, GCS credentials a gs:// one."""
    if not storage.scheme or storage_uri is None:
        return
    scheme = storage_uri.partition("://")[0]
    if scheme != storage.scheme:
        flag = "--s3-*" if storage.scheme == "s3" else "--gcs-credentials-file"
        raise UsageError(
            f"{flag}: credentials for {storage.scheme}:// but --storage-uri is {scheme}://; "
            f"use an {storage.scheme}:// URI or drop the flag"
        )


def owner_reference(isvc: dict[str, Any]) -> dict[str, Any]:
    """Make an object a dependent of the InferenceService: removed with it by the garbage collector."""
    meta = isvc["metadata"]
    return {
        "apiVersion": isvc["apiVersion"],
        "kind": isvc["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
    }
