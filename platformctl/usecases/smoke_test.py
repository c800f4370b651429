"""``platformctl smoke-test``: prove the platform works end to end with real requests through the ingress.

Targets come from the cluster (Knative Services and InferenceServices with their ``status.url``, via
the engine) or, without a cluster, from the spec's domain and explicit ``--url`` overrides. Every
check runs concurrently (one thread each: this is the one place), with its own deadline and bounded
retries with backoff for cold starts. Hostnames are dialled through drivers/http.py, so magic-DNS
names never need a DNS answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from platformctl import reporting
from platformctl.errors import CheckFailed, UsageError
from platformctl.plan import names as component_names
from platformctl.reporting import NullReporter, Reporter
from platformctl.usecases.deploy_model import ISVC_API, ISVC_KIND, V1_EXAMPLE, V2_EXAMPLE
from platformctl.usecases.model_spec import health_path, protocol_of

if TYPE_CHECKING:
    from platformctl.drivers.http import Endpoint, HttpClient, HttpResult
    from platformctl.drivers.kube.engine import Engine
    from platformctl.plan.spec import PlatformSpec
    from platformctl.providers import Provider

KSVC_API = "serving.knative.dev/v1"
APP_KIND_LABEL = "platformctl.io/kind"  # deploy-app's label on its Knative Services (value "app")
# The conference app's Knative Services (design §5) and the iris model (design §6): used when there is
# no cluster to discover them from.
CONFERENCE_SERVICES: tuple[str, ...] = ("frontend", "agenda-service", "c4p-service", "notifications-service")
FRONTEND = "frontend"
C4P = "c4p-service"
IRIS = "sklearn-iris"
IRIS_EXPECTED = [1, 1]
# Statuses worth retrying: the Knative activator/queue-proxy and the gateway answer these while a
# revision scales from zero or an endpoint is not programmed yet.
RETRY_STATUSES = frozenset({502, 503, 504})

Validator = Callable[["HttpResult"], str | None]  # None: pass; else the failure reason


@dataclass(frozen=True)
class Check:
    id: str
    group: str
    method: str
    url: str
    validate: Validator
    body: Any = None
    note: str = ""  # extra context shown with the result (e.g. cold start)


@dataclass
class CheckResult:
    id: str
    group: str
    url: str
    ok: bool
    latency: float  # seconds of the final attempt
    elapsed: float  # seconds including retries
    attempts: int
    status: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.id,
            "group": self.group,
            "url": self.url,
            "result": "pass" if self.ok else "fail",
            "status": self.status,
            "latency_seconds": round(self.latency, 4),
            "elapsed_seconds": round(self.elapsed, 4),
            "attempts": self.attempts,
            "detail": self.detail,
        }


@dataclass
class SmokeReport:
    results: list[CheckResult]
    total_seconds: float
    ingress: str | None
    discovered_from: str

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def slowest(self) -> float:
        return max((r.elapsed for r in self.results), default=0.0)

    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "total_seconds": round(self.total_seconds, 4),
            "slowest_check_seconds": round(self.slowest, 4),
            "ingress": self.ingress,
            "discovered_from": self.discovered_from,
            "checks": [r.to_dict() for r in self.results],
        }


@dataclass
class Targets:
    services: dict[str, str] = field(default_factory=dict)  # Knative Service name → URL
    models: dict[str, str] = field(default_factory=dict)  # InferenceService name → URL
    protocols: dict[str, str] = field(default_factory=dict)  # InferenceService name → v1|v2
    # Two-tier models: InferenceService name → the predictor's own URL (the model's URL reaches the
    # transformer, status.components.predictor.url the predictor behind it)
    predictors: dict[str, str] = field(default_factory=dict)
    c4p_pods_before: int | None = None  # None: unknown (no cluster)
    # Apps deployed with deploy-app (labelled platformctl.io/kind=app): name → URL, pods before the
    # check (0: scaled to zero, the check measures a cold start), and the path to request.
    apps: dict[str, str] = field(default_factory=dict)
    app_pods_before: dict[str, int] = field(default_factory=dict)
    app_paths: dict[str, str] = field(default_factory=dict)
    domain: str | None = None
    source: str = "spec"


# --- discovery --------------------------------------------------------------------------------------
def parse_url_overrides(items: Sequence[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, url = item.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise UsageError(f"{flag}: {item!r} is not NAME=http(s)://HOST[:PORT]")
        out[name] = url.rstrip("/")
    return out


def default_ingress(spec: PlatformSpec, provider: Provider | None = None) -> Endpoint | None:
    """Where the provider's gateway answers when URLs say port 80 but it listens elsewhere: kind maps it
    to listen_address:http_port, minikube exposes NodePort 31080 at `minikube ip`. None: dial the URL."""
    from platformctl import providers
    from platformctl.drivers.http import Endpoint

    provider = provider or providers.create(spec, providers.ProviderOptions(allow_download=False))
    ingress = provider.ingress(spec)
    if ingress is not None and ingress.http_port != 80:
        return Endpoint(ingress.address, ingress.http_port)
    return None


def targets_from_spec(spec: PlatformSpec, scheme: str = "http") -> Targets:
    """What ``up`` deploys, at the spec's domain (Knative's default template {name}.{namespace}.{domain})."""
    ns, mns, domain = spec.workloads.namespace, spec.workloads.model_namespace, spec.domain
    t = Targets(domain=domain, source="spec")
    if spec.components[component_names.CONFERENCE].enabled:
        t.services = {s: f"{scheme}://{s}.{ns}.{domain}" for s in CONFERENCE_SERVICES}
    if spec.components[component_names.IRIS].enabled:
        t.models = {IRIS: f"{scheme}://{IRIS}.{mns}.{domain}"}
        t.protocols = {IRIS: "v2"}
    return t


def discover(engine: Engine, spec: PlatformSpec) -> Targets:
    """Knative Services in the workloads namespace, InferenceServices in the model namespace, c4p pods."""
    ns, mns = spec.workloads.namespace, spec.workloads.model_namespace
    t = Targets(domain=spec.domain, source=f"cluster {engine.context_name}")
    for ksvc in engine.list(KSVC_API, "Service", namespace=ns):
        url = (ksvc.get("status") or {}).get("url")
        if url and not _is_app(ksvc):
            t.services[str(ksvc["metadata"]["name"])] = str(url).rstrip("/")
    discover_apps(engine, t)
    for isvc in engine.list(ISVC_API, ISVC_KIND, namespace=mns):
        url = (isvc.get("status") or {}).get("url")
        if url:
            name = str(isvc["metadata"]["name"])
            t.models[name] = str(url).rstrip("/")
            # predictor.model.protocolVersion, or platformctl's annotation on a custom predictor
            t.protocols[name] = protocol_of(isvc)
            if (isvc.get("spec") or {}).get("transformer"):
                comps = (isvc.get("status") or {}).get("components") or {}
                pred_url = (comps.get("predictor") or {}).get("url")
                if pred_url:
                    t.predictors[name] = str(pred_url).rstrip("/")
    if C4P in t.services:
        pods = engine.list("v1", "Pod", namespace=ns, label_selector=f"serving.knative.dev/service={C4P}")
        t.c4p_pods_before = len(pods)
    return t


def _is_app(ksvc: dict[str, Any]) -> bool:
    labels = (ksvc.get("metadata") or {}).get("labels") or {}
    return labels.get(APP_KIND_LABEL) == "app"


def discover_apps(engine: Engine, t: Targets) -> None:
    """deploy-app's apps in every namespace, with their pods (0: the check measures a cold start).
    Keyed by NAME, or NAMESPACE/NAME when the same name exists in several namespaces."""
    apps = engine.list(KSVC_API, "Service", label_selector=f"{APP_KIND_LABEL}=app")
    names = [str(a["metadata"]["name"]) for a in apps]
    for app in apps:
        meta = app["metadata"]
        url = (app.get("status") or {}).get("url")
        if not url:
            continue
        name, ns = str(meta["name"]), str(meta.get("namespace"))
        key = name if names.count(name) == 1 else f"{ns}/{name}"
        t.apps[key] = str(url).rstrip("/")
        pods = engine.list("v1", "Pod", namespace=ns, label_selector=f"serving.knative.dev/service={name}")
        t.app_pods_before[key] = sum(
            1 for p in pods if (p.get("status") or {}).get("phase") in ("Running", "Pending")
        )


def parse_app_paths(items: Sequence[str]) -> dict[str, str]:
    """--path NAME=/PATH: what to request of an app (default /)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path.startswith("/") or any(c.isspace() for c in path):
            raise UsageError(f"--path: {item!r} is not NAME=/PATH (e.g. hello=/healthz)")
        out[name] = path
    return out


# --- validators -------------------------------------------------------------------------------------
def _status(expected: int = 200) -> Validator:
    def check(r: HttpResult) -> str | None:
        return None if r.status == expected else f"HTTP {r.status}, expected {expected}"

    return check


def _any_response(r: HttpResult) -> str | None:
    return None if r.status is not None else "no HTTP response"


def _below_500(r: HttpResult) -> str | None:
    """An app answered: any status below 500 counts (its own 404 still proves it runs)."""
    if r.status is None:
        return "no HTTP response"
    return None if r.status < 500 else f"HTTP {r.status}: {r.text[:200]}"


def _json_ok(r: HttpResult) -> str | None:
    if r.status != 200:
        return f"HTTP {r.status}, expected 200"
    try:
        r.json()
    except ValueError:
        return "HTTP 200 but the body is not JSON"
    return None


def _html(r: HttpResult) -> str | None:
    if r.status != 200:
        return f"HTTP {r.status}, expected 200"
    if "text/html" not in r.headers.get("content-type", "") and "<html" not in r.text[:2000].lower():
        return f"HTTP 200 but not HTML (content-type {r.headers.get('content-type')!r})"
    return None


def _flags_evaluated(r: HttpResult) -> str | None:
    """c4p-service's service info: ``eventsEnabled`` is its evaluation of flagd's ``eventsEnabled`` flag.

    salaboy/platforms-on-k8s@v2.0.0 conference-application/c4p-service: GET /service-info returns
    ``eventsEnabled: s.areEventsEnabled()``, which is false when the flag cannot be evaluated (flagd
    unreachable: FLAGD_HOST wrong) and then no events are published. platformctl's flag configuration
    defaults ``eventsEnabled`` to the variant ``all`` (c4p-service: true), so false means evaluation failed.
    """
    if r.status != 200:
        return f"HTTP {r.status}, expected 200"
    try:
        body = r.json()
    except ValueError:
        return "HTTP 200 but the body is not JSON"
    if not isinstance(body, dict) or "eventsEnabled" not in body:
        return f"no eventsEnabled in c4p-service's service info: {r.text[:200]}"
    if body["eventsEnabled"] is not True:
        return (
            "c4p-service could not evaluate feature flag eventsEnabled (flagd unreachable? check its "
            "FLAGD_HOST and the flagd Deployment): no events would be published"
        )
    return None


def _predictions(extract: Callable[[Any], Any]) -> Validator:
    def check(r: HttpResult) -> str | None:
        if r.status != 200:
            return f"HTTP {r.status}, expected 200: {r.text[:200]}"
        try:
            got = extract(r.json())
        except (ValueError, KeyError, IndexError, TypeError):
            return f"unexpected response body: {r.text[:200]}"
        return None if got == IRIS_EXPECTED else f"predicted {got}, expected {IRIS_EXPECTED}"

    return check


def _v2_ready(r: HttpResult) -> str | None:
    if r.status != 200:
        return f"HTTP {r.status}, expected 200"
    try:
        body = r.json()
    except ValueError:
        return None  # some servers answer 200 with an empty body: the status is the protocol's answer
    if isinstance(body, dict) and body.get("ready") is False:
        return "server reports ready: false"
    return None


# --- checks -----------------------------------------------------------------------------------------
def build_checks(t: Targets) -> list[Check]:
    checks: list[Check] = []
    probe = (
        t.services.get(FRONTEND)
        or next(iter(t.services.values()), None)
        or next(iter(t.models.values()), None)
        or next(iter(t.apps.values()), None)
    )
    if probe is not None:
        checks.append(Check("ingress", "ingress", "GET", probe + "/", _any_response))
    for name, url in sorted(t.services.items()):
        checks.append(Check(f"health:{name}", "health", "GET", f"{url}/health/readiness", _status()))
    fe = t.services.get(FRONTEND)
    if fe is not None:
        checks.append(Check("frontend:html", "frontend", "GET", f"{fe}/", _html))
        checks.append(Check("frontend:info", "frontend", "GET", f"{fe}/api/service/info", _json_ok))
        checks.append(Check("agenda:items", "agenda", "GET", f"{fe}/api/agenda/agenda-items/", _json_ok))
        note = ""
        if t.c4p_pods_before == 0:
            note = "c4p-service had 0 pods: cold start"
        elif t.c4p_pods_before:
            note = f"c4p-service was already running ({t.c4p_pods_before} pods): not a cold start"
        checks.append(Check("c4p:proposals", "c4p", "GET", f"{fe}/api/c4p/proposals/", _json_ok, note=note))
        checks.append(Check("c4p:flags", "c4p", "GET", f"{fe}/api/c4p/service-info", _flags_evaluated))
    for name, url in sorted(t.apps.items()):
        pods = t.app_pods_before.get(name)
        note = "cold start: scaled to zero before the check" if pods == 0 else ""
        path = t.app_paths.get(name, "/")
        checks.append(Check(f"app:{name}", "apps", "GET", f"{url}{path}", _below_500, note=note))
    for name, url in sorted(t.models.items()):
        # Built-in runtimes, custom predictors and transformers alike: the protocol's health endpoint
        # (v1 GET /v1/models/NAME, v2 GET /v2/models/NAME/ready), through the model's URL ...
        path = health_path(t.protocols.get(name, "v1"), name)
        checks.append(Check(f"model:{name}:ready", "models", "GET", url + path, _v2_ready))
        if name in t.predictors:
            # ... and, for a two-tier model, the predictor behind the transformer directly.
            checks.append(
                Check(f"model:{name}:predictor", "models", "GET", t.predictors[name] + path, _v2_ready)
            )
        if name == IRIS:
            checks.append(
                Check(
                    "iris:v1-predict",
                    "iris",
                    "POST",
                    f"{url}/v1/models/{name}:predict",
                    _predictions(lambda b: b["predictions"]),
                    body=V1_EXAMPLE,
                )
            )
            checks.append(
                Check(
                    "iris:v2-infer",
                    "iris",
                    "POST",
                    f"{url}/v2/models/{name}/infer",
                    _predictions(lambda b: b["outputs"][0]["data"]),
                    body=V2_EXAMPLE,
                )
            )
            checks.append(Check("iris:v2-health", "iris", "GET", f"{url}/v2/health/ready", _v2_ready))
    return checks


def select(checks: Sequence[Check], only: Sequence[str]) -> list[Check]:
    """--only: check ids or groups (comma-separated allowed); unknown names are a UsageError."""
    wanted = {w.strip() for item in only for w in item.split(",") if w.strip()}
    if not wanted:
        return list(checks)
    known = {c.id for c in checks} | {c.group for c in checks}
    unknown = sorted(wanted - known)
    if unknown:
        raise UsageError(f"--only: unknown check {unknown[0]!r}; available: {', '.join(sorted(known))}")
    return [c for c in checks if c.id in wanted or c.group in wanted]


def run_check(
    client: HttpClient,
    check: Check,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    """Attempt until pass, a non-retryable answer, ``retries`` retries, or the check's deadline."""
    started = time.monotonic()
    deadline = started + timeout
    attempt = 0
    reason = "not attempted"
    last: HttpResult | None = None
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        last = client.request(check.method, check.url, json_body=check.body, timeout=max(remaining, 0.05))
        failure = check.validate(last)
        if failure is None:
            detail = check.note + (f" ({last.elapsed:.2f}s)" if check.note else "")
            return CheckResult(
                check.id,
                check.group,
                check.url,
                True,
                last.elapsed,
                time.monotonic() - started,
                attempt,
                last.status,
                detail or "ok",
            )
        reason = last.error or failure
        retryable = last.status is None or last.status in RETRY_STATUSES
        wait = backoff * (2 ** (attempt - 1))
        if not retryable or attempt > retries or time.monotonic() + wait >= deadline:
            break
        sleep(wait)
    if attempt > 1:
        reason += f" (after {attempt} attempts)"
    return CheckResult(
        check.id,
        check.group,
        check.url,
        False,
        last.elapsed,
        time.monotonic() - started,
        attempt,
        last.status,
        reason,
    )


def run_smoke_test(
    checks: Sequence[Check],
    *,
    ingress: Endpoint | None = None,
    timeout: float = 30,
    retries: int = 4,
    backoff: float = 0.25,
    verify: bool = True,
    ca_file: str | None = None,
    discovered_from: str = "spec",
    reporter: Reporter | None = None,
) -> SmokeReport:
    """Run every check concurrently; results keep the checks' order."""
    from platformctl.drivers.http import HttpClient

    if not checks:
        raise CheckFailed(
            f"smoke-test: nothing to check: no Knative Services or InferenceServices ({discovered_from})",
            hint="run `platformctl up` (or deploy-app) first, or pass --url NAME=URL / --model-url NAME=URL",
        )
    rep = reporter or NullReporter()
    started = time.monotonic()
    with HttpClient(ingress=ingress, verify=verify, ca_file=ca_file, timeout=timeout) as client:

        def one(check: Check) -> CheckResult:
            reporting.start(rep, f"smoke/{check.id}", check.url)
            res = run_check(client, check, timeout=timeout, retries=retries, backoff=backoff)
            (reporting.finish if res.ok else reporting.fail)(rep, f"smoke/{check.id}", res.detail)
            return res

        results = _run_concurrently(one, checks)
    return SmokeReport(
        results,
        time.monotonic() - started,
        ingress.authority() if ingress else None,
        discovered_from,
    )


def _run_concurrently(fn: Callable[[Check], CheckResult], checks: Sequence[Check]) -> list[CheckResult]:
    """One daemon thread per check, results in the checks' order. Daemon threads (not a
    ThreadPoolExecutor, whose workers the interpreter joins at exit): on Ctrl-C the main thread's
    KeyboardInterrupt ends the process at once instead of after the slowest in-flight request."""
    import threading

    results: list[CheckResult | None] = [None] * len(checks)
    errors: list[BaseException] = []

    def work(i: int, check: Check) -> None:
        try:
            results[i] = fn(check)
        except BaseException as exc:  # re-raised in the caller's thread below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(i, c), name=f"smoke-{i}", daemon=True)
        for i, c in enumerate(checks)
    ]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)  # short joins keep the main thread responsive to Ctrl-C
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def to_junit_xml(report: SmokeReport, suite: str = "platformctl.smoke-test") -> str:
    """A JUnit XML document (one testcase per check) for CI systems."""
    root = ElementTree.Element(
        "testsuite",
        name=suite,
        tests=str(len(report.results)),
        failures=str(len(report.failed())),
        errors="0",
        time=f"{report.total_seconds:.3f}",
    )
    for r in report.results:
        case = ElementTree.SubElement(
            root, "testcase", classname=f"smoke.{r.group}", name=r.id, time=f"{r.elapsed:.3f}"
        )
        if not r.ok:
            fail = ElementTree.SubElement(case, "failure", message=r.detail)
            fail.text = f"{r.url}\nstatus: {r.status}\nattempts: {r.attempts}\n{r.detail}"
        else:
            out = ElementTree.SubElement(case, "system-out")
            out.text = f"{r.url} -> {r.status} in {r.latency:.3f}s {r.detail}"
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def merge_targets(base: Targets, services: Mapping[str, str], models: Mapping[str, str]) -> Targets:
    """Explicit --url/--model-url entries win over discovered ones (and may add new ones)."""
    base.services.update(services)
    for name, url in models.items():
        base.models[name] = url
        base.protocols.setdefault(name, "v2")
    return base


def dumps(report: SmokeReport) -> str:
    return json.dumps(report.to_dict(), indent=2)
