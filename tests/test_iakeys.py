"""Internet Archive keys: from the environment or the ``ia`` tool's config, never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from linkkeeper.archive.iakeys import KEYS_HELP, KEYS_PAGE, Keys, KeysError, load_keys

ACCESS, SECRET = "AKiniACCESS5521", "SKini%SECRET8810"  # '%' must survive (raw parser)


def write_ini(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def ini(access: str = ACCESS, secret: str = SECRET) -> str:
    return f"[s3]\naccess = {access}\nsecret = {secret}\n\n[cookies]\nlogged-in-user = m@x.org\n"


def test_keys_from_environment_win_over_files(tmp_path: Path) -> None:
    write_ini(tmp_path / ".ia", ini("AKfile", "SKfile"))
    keys = load_keys({"IA_ACCESS_KEY": ACCESS, "IA_SECRET_KEY": SECRET}, home=tmp_path)
    assert keys == Keys(ACCESS, SECRET) and keys is not None and keys.source == "environment"


@pytest.mark.parametrize(
    "where", [".config/internetarchive/ia.ini", ".config/ia.ini", ".ia"], ids=str
)
def test_keys_from_ia_ini_locations(tmp_path: Path, where: str) -> None:
    path = write_ini(tmp_path / where, ini())
    keys = load_keys({}, home=tmp_path)
    assert keys is not None and (keys.access, keys.secret) == (ACCESS, SECRET)
    assert keys.source == str(path)


def test_ia_config_file_and_xdg_config_home(tmp_path: Path) -> None:
    write_ini(tmp_path / ".ia", ini("AKhome", "SKhome"))
    custom = write_ini(tmp_path / "elsewhere" / "my.ini", ini())
    keys = load_keys({"IA_CONFIG_FILE": str(custom)}, home=tmp_path)
    assert keys is not None and keys.access == ACCESS
    xdg = write_ini(tmp_path / "xdg" / "internetarchive" / "ia.ini", ini("AKxdg", "SKxdg"))
    keys = load_keys({"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, home=tmp_path)
    assert keys is not None and keys.access == "AKxdg" and keys.source == str(xdg)


def test_no_keys_anywhere_is_none(tmp_path: Path) -> None:
    assert load_keys({}, home=tmp_path) is None
    write_ini(tmp_path / ".ia", "[cookies]\nlogged-in-user = m@x.org\n")
    assert load_keys({}, home=tmp_path) is None  # logged in for uploads, but no S3 keys


def test_half_configured_keys_are_errors_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(KeysError, match="IA_SECRET_KEY is empty"):
        load_keys({"IA_ACCESS_KEY": ACCESS}, home=tmp_path)
    path = write_ini(tmp_path / ".ia", f"[s3]\naccess = {ACCESS}\n")
    with pytest.raises(KeysError) as info:
        load_keys({}, home=tmp_path)
    assert str(path) in str(info.value) and "'secret'" in str(info.value)
    assert KEYS_PAGE in str(info.value)


def test_malformed_ini_names_file_and_line_without_quoting_it(tmp_path: Path) -> None:
    path = write_ini(tmp_path / ".ia", f"[s3]\naccess = {ACCESS}\n{SECRET} without equals\n")
    with pytest.raises(KeysError) as info:
        load_keys({}, home=tmp_path)
    text = str(info.value)
    assert text.startswith(f"{path}:3:") and "ia configure" in text
    assert SECRET not in text and ACCESS not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_keys_never_show_their_halves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = load_keys({"IA_ACCESS_KEY": ACCESS, "IA_SECRET_KEY": SECRET}, home=tmp_path)
    assert keys is not None
    shown = [repr(keys), str(keys), f"{keys}", f"{keys!r}", f"{keys:>40}", repr([keys])]
    logging.getLogger("test").warning("keys: %s %r", keys, keys)
    print(keys, {"k": keys})
    out, err = capsys.readouterr()
    text = "\n".join([*shown, caplog.text, out, err])
    assert repr(keys) == "Keys(access='***', secret='***')"
    assert SECRET not in text and ACCESS not in text
    assert keys.authorization() == f"LOW {ACCESS}:{SECRET}"


def test_help_text_says_where_keys_come_from() -> None:
    assert KEYS_PAGE == "https://archive.org/account/s3.php"
    assert all(word in KEYS_HELP for word in (KEYS_PAGE, "IA_ACCESS_KEY", "ia configure"))
