"""up/down/status/render use-cases with toy components and an in-memory engine (no API server)."""

from __future__ import annotations

from typing import Any

import pytest

from platformctl.components import registry
from platformctl.errors import NotReadyError, SafetyError, UsageError
from platformctl.plan.spec import COMPONENTS, PlatformSpec
from platformctl.reporting import RecordingReporter
from platformctl.usecases.down import down
from platformctl.usecases.runner import RunInterrupted
from platformctl.usecases.status import status
from platformctl.usecases.up import UpOptions, up
from tests.orchestration.toys import REAL_DEPS, ToyComponent, ToyEngine, stub_preflight, toy_registry

SPEC = PlatformSpec.model_validate({"cluster": {"provider": "existing"}, "domain": "example.com"})


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch) -> dict[str, ToyComponent]:
    comps = toy_registry(REAL_DEPS)
    monkeypatch.setattr(registry, "get", lambda name: comps[name])
    stub_preflight(monkeypatch)
    return comps


def connector(engine: ToyEngine) -> Any:
    return lambda kubeconfig, context, reporter: engine


def test_up_existing_then_second_up_changes_nothing(toys: dict[str, ToyComponent]) -> None:
    engine = ToyEngine()
    rec = RecordingReporter()
    res = up(SPEC, reporter=rec, connect=connector(engine))
    assert res.run is not None and res.run.ok
    assert res.mode == "apply" and res.context == "toy"
    assert res.changed == len(COMPONENTS)
    assert set(rec.steps("finish")) >= set(COMPONENTS)
    again = up(SPEC, connect=connector(engine))
    assert again.run is not None and again.run.ok
    assert again.changed == 0
    assert all(c["unchanged"] == 1 for c in again.actions.values())


def test_interrupt_then_resume_completes(toys: dict[str, ToyComponent]) -> None:
    engine = ToyEngine()

    def hook(component: str, step: str) -> None:
        if component == "kserve" and step == "ready":
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted) as info:
        up(SPEC, UpOptions(step_hook=hook), connect=connector(engine))
    done = info.value.result.with_status("succeeded")
    assert "kserve" not in done and "iris" not in done
    res = up(SPEC, connect=connector(engine))
    assert res.run is not None and res.run.ok
    # kserve's objects were applied before the interrupt: the resumed run finds them unchanged.
    assert res.actions["kserve"]["unchanged"] == 1
    assert res.actions["iris"]["created"] == 1


def test_never_ready_fails_dependents_but_not_independent_branches(toys: dict[str, ToyComponent]) -> None:
    engine = ToyEngine()
    engine.never_ready.add("cert-manager")
    res = up(SPEC, connect=connector(engine))
    assert res.run is not None and not res.run.ok
    assert res.run.with_status("failed") == ["cert-manager"]
    assert set(res.run.with_status("skipped")) == {"kserve", "iris"}
    assert {"istio", "knative-serving", "dapr", "infra", "conference"} <= set(
        res.run.with_status("succeeded")
    )
    with pytest.raises(NotReadyError) as info:
        res.run.raise_for_failure()
    assert info.value.details == ["pod cert-manager-0: ImagePullBackOff"]


def test_only_requires_healthy_external_dependencies(toys: dict[str, ToyComponent]) -> None:
    engine = ToyEngine()
    with pytest.raises(UsageError, match="not healthy on the cluster") as info:
        up(SPEC, UpOptions(only=("kserve",)), connect=connector(engine))
    assert "kserve needs cert-manager (not installed)" in info.value.message
    assert "kserve needs knative-serving (not installed)" in info.value.message
    assert engine.applies == []  # refused before touching anything
    up(SPEC, connect=connector(engine))
    res = up(SPEC, UpOptions(only=("kserve",)), connect=connector(engine))
    assert res.run is not None and res.run.ok and list(res.actions) == ["kserve"]


def test_server_dry_run_changes_nothing(toys: dict[str, ToyComponent]) -> None:
    engine = ToyEngine()
    res = up(SPEC, UpOptions(dry_run=True), connect=connector(engine))
    assert res.mode == "server-dry-run"
    assert engine.store == {}
    assert all(dry for _, dry in engine.applies)
    assert all(t.calls == [] for t in toys.values())  # no waits in a dry run


def test_per_component_timeout(toys: dict[str, ToyComponent]) -> None:
    toys["istio"].delay = 0.3
    res = up(SPEC, UpOptions(timeout=0.1, only=("istio", "dapr")), connect=connector(ToyEngine()))
    assert res.run is not None
    # istio's wait used up its deadline: the next step is refused with a timeout; dapr is unaffected
    assert res.run.runs["istio"].status == "failed"
    assert "timed out after 0.1s before step 'post'" in res.run.runs["istio"].reason
    assert res.run.runs["dapr"].status == "succeeded"


def test_status_and_down_existing(toys: dict[str, ToyComponent]) -> None:
    engine = ToyEngine()
    up(SPEC, connect=connector(engine))
    from platformctl.reporting import NullReporter
    from platformctl.usecases.render import SourceOptions, make_render_context

    ctx = make_render_context(SPEC, SourceOptions(allow_download=False), NullReporter())
    st = status(SPEC, engine, ctx)  # type: ignore[arg-type]
    assert st.healthy and [c.name for c in st.components] == list(COMPONENTS)
    with pytest.raises(SafetyError, match="--yes"):
        down(SPEC, confirmed=False, connect=connector(engine))
    res = down(SPEC, confirmed=True, connect=connector(engine))
    assert engine.store == {}
    assert sum(res.pruned.values()) == len(COMPONENTS)
    st2 = status(SPEC, engine, ctx)  # type: ignore[arg-type]
    assert not st2.healthy and st2.components[0].reason == "not installed"


def test_up_announces_its_plan_before_anything_runs(toys: dict[str, ToyComponent]) -> None:
    """The CLI's progress view lists every component from the start: up reports ``pending`` for each
    component of its plan (--only/--skip applied) before the first step, and returns the plan."""
    rec = RecordingReporter()
    res = up(SPEC, UpOptions(skip=("conference",)), reporter=rec, connect=connector(ToyEngine()))
    kinds = [(e.kind, e.step) for e in rec.events]
    pending = [step for kind, step in kinds if kind == "pending"]
    assert pending == list(res.plan.order) and "conference" not in pending
    first_start = next(i for i, (kind, _) in enumerate(kinds) if kind == "start")
    assert all(kinds.index(("pending", n)) < first_start for n in pending)


def test_up_and_render_take_the_per_command_context(toys: dict[str, ToyComponent]) -> None:
    """up_command/render_command read the spec, cluster selection, sources and reporter from the
    context (they override UpOptions' fields of the same name)."""
    from platformctl.usecases.context import CommandContext
    from platformctl.usecases.render import SourceOptions, render_command
    from platformctl.usecases.up import up_command

    engine = ToyEngine()
    seen: list[tuple[str | None, str | None]] = []

    def connect(kubeconfig: str | None, context: str | None, reporter: Any) -> Any:
        seen.append((kubeconfig, context))
        return engine

    rec = RecordingReporter()
    sources = SourceOptions(allow_download=False)
    cctx = CommandContext(
        SPEC, kubeconfig="/k", context="ctx", reporter=rec, sources=sources, connect=connect
    )
    res = up_command(cctx, UpOptions(only=("istio",), kubeconfig="/ignored", context="ignored"))
    assert res.run is not None and res.run.ok and list(res.plan.order) == ["istio"]
    assert seen and set(seen) == {("/k", "ctx")}
    assert ("finish", "istio") in [(e.kind, e.step) for e in rec.events]

    rendered = render_command(cctx, only=("istio",))
    assert [c.name for c in rendered.components] == ["istio"]


def test_down_takes_the_per_command_context(toys: dict[str, ToyComponent]) -> None:
    """down_command prunes through the context's engine (connected once, with the context's cluster
    selection): the cluster a confirmation question named is the one pruned."""
    from platformctl.usecases.context import CommandContext
    from platformctl.usecases.down import down_command

    engine = ToyEngine()
    up(SPEC, UpOptions(), connect=connector(engine))
    assert engine.store
    seen: list[tuple[str | None, str | None]] = []

    def connect(kubeconfig: str | None, context: str | None, reporter: Any) -> Any:
        seen.append((kubeconfig, context))
        return engine

    rec = RecordingReporter()
    cctx = CommandContext(SPEC, kubeconfig="/k", context="ctx", connect=connect)
    with pytest.raises(SafetyError, match="--yes"):
        down_command(cctx, confirmed=False)
    assert engine.store  # refused: nothing pruned
    res = down_command(cctx, confirmed=True, reporter=rec)
    assert engine.store == {} and sum(res.pruned.values()) == len(COMPONENTS)
    assert seen == [("/k", "ctx")]  # one connection, the context's
    assert ("finish", "istio") in [(e.kind, e.step) for e in rec.events]
