"""The gateway runs exactly the manifest's features, each from its own folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from contracts.platform import load_platform
from gateway import features
from gateway.core.feature import Feature
from gateway.core.projector import create_projectors, durable_name
from gateway.volunteers.readmodel import VolunteersReadModel
from services.kit.settings import Settings

GATEWAY = Path(__file__).resolve().parents[1]


def test_the_registered_features_are_the_manifests() -> None:
    manifest = load_platform().gateway().features
    assert [(f.name, spec) for f, spec in features.registered()] == [
        (spec.name, spec) for spec in manifest
    ]


def test_every_feature_folder_is_in_the_manifest() -> None:
    folders = {
        path.parent.name
        for path in GATEWAY.glob("*/__init__.py")
        if "FEATURE" in path.read_text(encoding="utf-8")
    }
    assert folders == {spec.name for spec in load_platform().gateway().features}


def test_a_manifest_feature_without_a_folder_is_refused() -> None:
    with pytest.raises(features.FeatureNotFoundError, match="no gateway/trial/"):
        features.load_feature("trial")


def test_a_folder_must_register_its_own_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.volunteers

    monkeypatch.setattr(
        gateway.volunteers, "FEATURE", Feature(name="other", readmodel=VolunteersReadModel)
    )
    with pytest.raises(features.FeatureNotFoundError, match="named 'volunteers'"):
        features.load_feature("volunteers")


class TestDurableNames:
    def test_a_features_own_stream_keeps_the_name_it_always_had(self) -> None:
        settings = Settings()
        assert durable_name("volunteers", "evt.cyl.volunteers.>", settings) == "gateway-volunteers"
        named = settings.model_copy(update={"gateway_instance": "pod-1"})
        assert durable_name("volunteers", "evt.cyl.volunteers.>", named) == (
            "gateway-volunteers-pod-1"
        )

    def test_another_boundarys_stream_is_named_after_it(self) -> None:
        assert durable_name("feeds", "evt.cyl.volunteers.>", Settings()) == (
            "gateway-feeds-volunteers"
        )

    def test_two_patterns_of_one_stream_would_share_a_position(self, tmp_path: Path) -> None:
        readmodel = VolunteersReadModel(tmp_path / "rm.sqlite3")
        patterns = ["evt.cyl.volunteers.shift.>", "evt.cyl.volunteers.volunteer.>"]
        with pytest.raises(ValueError, match="two patterns of one stream"):
            create_projectors("volunteers", patterns, readmodel, Settings())


def test_each_feature_has_its_own_file_and_projectors(tmp_path: Path) -> None:
    built = features.build_features(Settings(state_dir=tmp_path))
    assert list(built) == [spec.name for spec in load_platform().gateway().features]
    live = built["volunteers"]
    assert Path(live.readmodel.path) == tmp_path / "data" / "gateway-volunteers.sqlite3"
    assert [(p.name, p.filter_subject) for p in live.projectors] == [
        ("gateway-volunteers", "evt.cyl.volunteers.>")
    ]
    assert (
        features.build_features(Settings(state_dir=tmp_path), start_projectors=False)[
            "volunteers"
        ].projectors
        == ()
    )


def test_rebuild_takes_features_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.__main__ as entry
    from services.kit import runtime

    asked: list[list[str] | None] = []
    processes: list[str] = []

    async def rebuild(settings: Settings, *, features: list[str] | None = None) -> dict[str, int]:
        asked.append(features)
        return {}

    monkeypatch.setattr(entry, "rebuild", rebuild)
    # The kit's runtime starts it, and names the process as it names a service's relay.
    monkeypatch.setattr(runtime, "setup_logging", lambda name, _: processes.append(name))
    monkeypatch.setattr(runtime, "setup_tracing", lambda *_: None)
    entry.main(["rebuild", "--feature", "volunteers"])
    entry.main(["rebuild"])
    assert asked == [["volunteers"], None]
    assert processes == ["gateway-rebuild", "gateway-rebuild"]
    for refused in (["rebuild", "--feature", "trial"], ["serve", "--feature", "volunteers"]):
        with pytest.raises(SystemExit):
            entry.main(refused)


def test_a_feature_over_a_services_data_reads_under_that_services_departments() -> None:
    for feature, spec in features.registered():
        if spec.service is None:
            continue
        assert feature.reads is not None, f"{feature.name} declares no read rules"
        assert feature.reads.service == spec.service
        # The ownership map's grants, never a copy of the service's table.
        assert feature.reads.grants is None


async def test_the_projector_process_ends_when_a_projector_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import gateway.__main__ as entry

    stopped: list[str] = []

    class Crashing:
        name = "crashing"

        async def run(self, stop: asyncio.Event) -> None:
            raise RuntimeError("boom")

    class Patient:
        name = "patient"

        async def run(self, stop: asyncio.Event) -> None:
            await stop.wait()
            stopped.append(self.name)

    settings = Settings(state_dir=tmp_path)
    built = features.build_features(settings, start_projectors=False)
    live = built["volunteers"]
    live.projectors = (Crashing(), Patient())  # type: ignore[assignment]
    monkeypatch.setattr(entry, "build_features", lambda _: built)

    # A projector process projecting only some features would look alive while one
    # read model falls behind: the others stop and the process fails.
    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.wait_for(entry.project(settings, asyncio.Event()), timeout=10)
    assert stopped == ["patient"]
    assert not live.readmodel.is_open
