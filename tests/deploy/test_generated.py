"""The deploy files' generated regions: committed as `make generate` renders them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tongxin import deploygen

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", list(deploygen.REGIONS), ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_file_matches_the_generator(path: Path) -> None:
    assert deploygen.render_file(path) == path.read_text(encoding="utf-8"), (
        f"{path.relative_to(ROOT)} is out of date: run `make generate`"
    )


def test_check_mode_reports_a_stale_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stale = tmp_path / "values.yaml"
    text = deploygen.VALUES.read_text(encoding="utf-8")
    stale.write_text(text.replace("replicas: 1", "replicas: 3", 1), encoding="utf-8")
    monkeypatch.setattr(deploygen, "ROOT", tmp_path)
    monkeypatch.setattr(deploygen, "REGIONS", {stale: deploygen.REGIONS[deploygen.VALUES]})
    assert deploygen.main(["--check"]) == 1
    assert deploygen.main([]) == 0
    assert stale.read_text(encoding="utf-8") == text


def test_a_missing_or_unknown_region_is_an_error() -> None:
    platform = deploygen.load_platform()
    with pytest.raises(deploygen.GenerateError, match="regions missing"):
        deploygen.render("services: {}\n", {"services": deploygen.helm_services}, platform)
    text = f"{deploygen.BEGIN} (elsewhere)\n{deploygen.END}\n"
    with pytest.raises(deploygen.GenerateError, match="no renderer"):
        deploygen.render(text, {}, platform)
