"""Settings refused before anything is made or opened, and said for what they are: `zzgw init` and `zzgw serve` as an
operator runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands import DEMO_FILES, command_env, run_zzgw, zzgw


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    made = command_env(tmp_path / "var", ZZGW_MODE="production", **DEMO_FILES)
    return {k: v for k, v in made.items() if not k.startswith("ZZGW_KEY_PASSPHRASE")}


def test_init_refused_for_a_missing_passphrase_makes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    """Production settings without a passphrase had left an empty zzgw.db in the data directory (a keys tester,
    D7): the trap Taking a backup warns of, an empty store where a mistyped ZZGW_DATA_DIR points."""
    data = tmp_path / "var"
    for command in ("init", "serve", "init"):
        refused = zzgw(env, command, timeout=60)
        assert refused.returncode == 2, refused.stderr
        if command == "init":  # serve says first that there is no store
            assert "production mode needs ZZGW_KEY_PASSPHRASE or ZZGW_KEY_PASSPHRASE_FILE" in refused.stderr
        assert not data.exists()
    data.mkdir()
    for command in ("init", "serve"):
        refused = zzgw(env, command, timeout=60)
        assert refused.returncode == 2, refused.stderr
        assert list(data.iterdir()) == []


def test_dev_settings_without_a_passphrase_on_a_production_store_are_told_it_is_one(env: dict[str, str]) -> None:
    """Dev settings without a passphrase on a production store had been told to copy secrets/key-passphrase, a file
    a production store never had, rather than that the store is served in production (a multi-replica tester, D7)."""
    made = zzgw(env | {"ZZGW_KEY_PASSPHRASE": "settings-first-passphrase"}, "init")
    assert made.returncode == 0, made.stderr
    dev = env | {"ZZGW_MODE": "dev"}
    for command in ("serve", "init"):
        refused = zzgw(dev, command, timeout=60)
        assert refused.returncode == 2, refused.stderr
        assert "is served in production mode (mTLS), and these settings say dev" in refused.stderr
        assert "copy secrets/key-passphrase" not in refused.stderr and "Traceback" not in refused.stderr
    assert not (Path(env["ZZGW_DATA_DIR"]) / "secrets").exists()


def test_a_settings_file_holding_the_passphrase_readable_by_others_is_warned_of(
    env: dict[str, str], tmp_path: Path
) -> None:
    """key_passphrase in a zzgw.toml readable by all drew no warning, where a passphrase file so readable does (a
    keys tester, D4): the file opens every key, wherever the keys are copied."""
    settings = tmp_path / "zzgw.toml"
    settings.write_text('key_passphrase = "settings-file-passphrase"\n', encoding="utf-8")
    settings.chmod(0o644)
    with_file = env | {"ZZGW_CONFIG": str(settings)}
    made = zzgw(with_file, "init")
    assert made.returncode == 0, made.stderr
    assert "others than its owner may read" in made.stderr and f"{settings} (0o644)" in made.stderr
    settings.chmod(0o600)
    again = zzgw(with_file, "init")
    assert again.returncode == 0 and str(settings) not in again.stderr, again.stderr
    settings.chmod(0o644)  # the environment's passphrase wins: the file's is not the one in use
    overridden = zzgw(with_file | {"ZZGW_KEY_PASSPHRASE": "settings-file-passphrase"}, "init")
    assert overridden.returncode == 0 and str(settings) not in overridden.stderr, overridden.stderr


def test_a_gbk_settings_file_in_the_working_directory_is_one_line_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    """A GB18030 zzgw.toml in the working directory had ended every command, `zzgw serve` too, in a traceback with
    exit 1, which the documented unit restarts every 5 s for ever (RestartPreventExitStatus=2 leaves a configuration
    error to the operator; a reviewer, R1)."""
    here = tmp_path / "here"
    here.mkdir()
    (here / "zzgw.toml").write_bytes("# 证照网关配置（济南）\nthreads = 3\n".encode("gb18030"))
    for command in (["members"], ["serve"], ["certificates"], ["catalog", "check"]):
        refused = run_zzgw(*command, env=env, cwd=here, timeout=60)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.strip().splitlines() == [
            "zzgw: configuration error: 设置文件 zzgw.toml 第 1 行不是 UTF-8 编码的文字，"
            "看来是以 GBK（GB18030）编码保存的：请把文件另存为 UTF-8 编码（the settings file zzgw.toml is not "
            "UTF-8 at line 1, GBK it seems: save the file as UTF-8）"
        ], refused.stderr
