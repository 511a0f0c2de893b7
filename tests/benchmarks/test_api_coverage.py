"""The API coverage table: consistent data, a printed table, and most of what real code uses covered."""

from __future__ import annotations

import json

import pytest

from benchmarks import api_coverage


def test_usage_counts_name_public_names_and_files_are_listed():
    doc = json.loads(api_coverage.DATA.read_text())
    assert doc["method"] and len(doc["files"]) >= 5
    for space, counts in doc["counts"].items():
        assert set(counts) <= set(doc["names"][space]), space
    for per_file in doc["per_file"].values():
        for space, counts in per_file.items():
            assert set(counts) <= set(doc["counts"][space])


def test_names_are_pytorchs_public_names(torch):
    doc = json.loads(api_coverage.DATA.read_text())
    assert doc["torch_version"] == torch.__version__.split("+")[0]
    assert doc["names"]["torch.nn"] == sorted(n for n in dir(torch.nn) if not n.startswith("_"))
    assert doc["names"]["torch.optim"] == sorted(n for n in dir(torch.optim) if not n.startswith("_"))


def test_weighted_coverage_reaches_ninety_percent(capsys):
    rows = api_coverage.coverage()
    used = sum(r[2] for r in rows.values())
    present = sum(r[3] for r in rows.values())
    assert present / used >= 0.9
    assert api_coverage.main([]) == 0
    out = capsys.readouterr().out
    assert "weighted" in out and "torch.nn.functional" in out


@pytest.mark.parametrize("name", ["compile", "nonexistent_name"])
def test_missing_names_do_not_count(name):
    import studio.core as sc

    assert not api_coverage._has(sc, name)
