"""Settings from the environment; the secret key is never a constant in the code."""

import pytest

from vpp import create_app


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("VPP_INSTANCE_PATH", str(tmp_path))
    db_url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    first = create_app({"SQLALCHEMY_DATABASE_URI": db_url}).config["SECRET_KEY"]
    second = create_app({"SQLALCHEMY_DATABASE_URI": db_url}).config["SECRET_KEY"]
    assert len(first) >= 32 and first == second
    key_file = tmp_path / "secret_key"
    assert key_file.read_text() == first
    assert key_file.stat().st_mode & 0o077 == 0  # readable by its owner only


def test_environment_sets_secret_key_and_database(tmp_path, monkeypatch):
    monkeypatch.setenv("VPP_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("elsewhere.sqlite3")
    assert not (tmp_path / "secret_key").exists()


def test_default_database_is_a_sqlite_file_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("VPP_INSTANCE_PATH", str(tmp_path))
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'vpp.sqlite3'}"


def test_unknown_chartjs_source_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("VPP_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CHARTJS_SOURCE", "internet")
    with pytest.raises(ValueError, match="CHARTJS_SOURCE"):
        create_app()
