"""The writers' command line: scripts/build_index.py."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_build(settings, *args):
    env = {**os.environ, "KB_ARTICLES_DIR": settings.articles_dir, "KB_INDEX_DIR": settings.index_dir}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "build_index.py"), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_build_summary_then_up_to_date(settings):
    first = run_build(settings, "-q")
    assert first.returncode == 0, first.stderr
    assert "6 articles" in first.stdout and "6 re-embedded" in first.stdout and "(published)" in first.stdout
    again = run_build(settings, "-q")
    assert again.returncode == 0 and "0 re-embedded" in again.stdout and "6 unchanged" in again.stdout


def test_invalid_article_exits_1_naming_file_and_field(settings, kb_dir):
    assert run_build(settings, "-q").returncode == 0
    live = (Path(settings.index_dir) / "current").resolve()
    (kb_dir / "broken.md").write_text("---\nid: broken\ntitle: Broken\nlocale: en\ncategory: deposits\n---\n\n", encoding="utf-8")
    proc = run_build(settings, "-q")
    assert proc.returncode == 1
    assert "broken.md: body: empty" in proc.stderr and "live index was left as it was" in proc.stderr
    assert (Path(settings.index_dir) / "current").resolve() == live
    skipped = run_build(settings, "-q", "--skip-invalid")
    assert skipped.returncode == 0 and "broken.md" in skipped.stderr and "1 invalid skipped" in skipped.stdout
    assert run_build(settings, "-q", "--skip-invalid", "--strict").returncode == 1


def test_dry_run_lists_new_edited_deleted(settings, kb_dir):
    assert run_build(settings, "-q").returncode == 0
    (kb_dir / "lost-2fa-en.md").unlink()
    proc = run_build(settings, "--dry-run")
    assert proc.returncode == 0 and "deleted  lost-2fa-en" in proc.stdout and "dry run" in proc.stdout
