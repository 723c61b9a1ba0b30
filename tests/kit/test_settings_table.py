"""The README lists every setting with its default, as the code has them."""

from __future__ import annotations

from nagara.kit import settings_table
from nagara.kit.settings import Settings
from tests.conftest import ROOT


def test_every_setting_is_in_the_readme_table_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(settings_table.BEGIN), readme.index(settings_table.END) + len(settings_table.END)
    table = readme[start:end]
    for name in Settings.model_fields:
        assert f"| `NAGARA_{name.upper()}` |" in table, f"NAGARA_{name.upper()} is not in the README's settings table"
    assert table == settings_table.markdown(), "the README's settings table is stale: python -m nagara.kit.settings_table"


def test_the_table_names_the_folders_a_newcomer_looks_for() -> None:
    table = settings_table.markdown()
    assert "| `NAGARA_PACKS_DIR` | `packs` |" in table
    assert "| `NAGARA_VAR_DIR` | `var` |" in table
    assert "dev-insecure" not in table  # the development secret's value is not advertised
