"""The analysis stages are built only when a post needs them, and a fitted examples model kept
on disk scores exactly as a fresh one, without scikit-learn."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from chatops.rules import RulesEngine, load_rules, parse_rules
from chatops.rules.examples import ExamplesClassifier, char_grams
from tests.conftest import ROOT, RULES_PATH

ANALYSERS = ("sklearn", "scipy", "numpy", "sudachipy", "simplemma", "fugashi")
CORPUS = ROOT / "examples" / "triage" / "corpus.jsonl"


def _imported_after(code: str, tmp_path) -> tuple[list[str], str]:
    """Run code in a fresh interpreter; return the analysers it imported and what it printed."""
    probe = f"import sys\n{code}\nprint(sorted(m for m in {ANALYSERS!r} if sys.modules.get(m) is not None))\n"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "CHATOPS_LANG": "en"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    *printed, modules = done.stdout.strip().splitlines()
    return ast.literal_eval(modules), "\n".join(printed)


def _document(keyword_rules: list[dict]) -> str:
    return json.dumps({
        "channels": {"support": {"slack": "#cs-support"}},
        "defaults": {"channel": "support"},
        "sla": {"policies": [{"priority": p, "first_response": "1h", "resolution": "1d"}
                             for p in ("red", "orange", "green")]},
        "keyword_rules": keyword_rules,
    }, ensure_ascii=False)


def test_rules_test_on_a_post_a_keyword_decides_loads_no_analyser(tmp_path):
    code = ("from chatops.cli import main\n"
            f"main(['rules', 'test', '--rules', {str(RULES_PATH)!r}, '--text', '二重請求されてます'])")
    imported, printed = _imported_after(code, tmp_path)
    assert "stage=keyword" in printed and "double-charge" in printed
    assert imported == []


def test_a_japanese_post_the_lemma_stage_decides_loads_no_classifier_or_english_lemmas(tmp_path):
    code = ("from chatops.cli import main\n"
            f"main(['rules', 'test', '--rules', {str(RULES_PATH)!r}, '--text', '荷物がいつになっても来ない'])")
    imported, printed = _imported_after(code, tmp_path)
    assert "stage=lemma" in printed and "not-delivered" in printed
    assert imported == ["sudachipy"]


def test_rules_without_lemmas_or_examples_never_load_an_analyser(tmp_path):
    document = _document([{"id": "refund", "any": ["返金"], "set": {"priority": "orange"}}])
    code = ("from chatops.rules import RulesEngine, parse_rules\n"
            f"engine = RulesEngine(parse_rules({document!r}))\n"
            "print(engine.triage('まだ届かないし、ひどい', 'x', 'mention').stage)")
    imported, printed = _imported_after(code, tmp_path)
    assert (printed, imported) == ("none", [])


EXAMPLE_RULES = [
    {"id": "billing", "examples": ["同じ額が二回引かれてる", "明細に同額が2件ある", "charged two times for one order",
                                   "二重に請求されてる気がする"], "set": {"priority": "red"}},
    {"id": "thanks", "examples": ["ありがとうございました", "助かりました", "thanks a lot", "感謝です"],
     "set": {"priority": "green"}},
    {"id": "late", "examples": ["荷物がまだ来ない", "いつ届くの", "where is my parcel", "配送が遅い"],
     "set": {"priority": "orange"}},
]
POSTS = ["明細に同じ額が2回あります", "本当に助かりました", "my parcel is late", "なるほど"]


def test_a_kept_model_scores_exactly_as_a_fresh_one_without_scikit_learn(tmp_path):
    document = _document(EXAMPLE_RULES)
    fresh = RulesEngine(parse_rules(document))
    expected = [[triage.priority, triage.stage, triage.reason] for triage in
                (fresh.triage(post, "x", "mention") for post in POSTS)]
    RulesEngine(parse_rules(document), cache_dir=tmp_path / "cache" / "chatops")  # fits and keeps the model
    assert list((tmp_path / "cache" / "chatops").glob("examples-*.npz"))
    code = ("sys.modules['sklearn'] = None  # importing it now fails\n"
            "import json\nfrom pathlib import Path\nfrom chatops.rules import RulesEngine, parse_rules\n"
            f"engine = RulesEngine(parse_rules({document!r}), lazy=True, cache_dir=Path({str(tmp_path)!r}) / 'cache' / 'chatops')\n"
            f"print(json.dumps([[t.priority, t.stage, t.reason] for t in (engine.triage(p, 'x', 'mention') for p in {POSTS!r})]))")
    imported, printed = _imported_after(code, tmp_path)
    assert json.loads(printed) == expected
    assert "sklearn" not in imported and "numpy" in imported


def test_a_lazy_engine_triages_the_corpus_as_an_eager_one(tmp_path):
    rules = load_rules(RULES_PATH)
    rows = [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line.strip()][::7]
    eager, lazy = RulesEngine(rules), RulesEngine(rules, lazy=True, cache_dir=tmp_path)
    for row in rows:
        want, got = eager.triage(row["text"], "x", "mention"), lazy.triage(row["text"], "x", "mention")
        assert (got.to_dict(), got.stage, got.reason) == (want.to_dict(), want.stage, want.reason), row["text"]


def test_character_ngrams_are_scikit_learns():
    from sklearn.feature_extraction.text import TfidfVectorizer

    sklearn_grams = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)).build_analyzer()
    texts = [json.loads(line)["text"] for line in CORPUS.read_text("utf-8").splitlines() if line.strip()]
    for text in [*texts, "", "a", "ab", "  two  spaces\tand\nlines ", "ＡＢＣ 😡 x"]:
        assert char_grams(text) == sklearn_grams(text), text


def test_a_damaged_kept_model_is_fitted_again(tmp_path):
    document = _document(EXAMPLE_RULES)
    RulesEngine(parse_rules(document), cache_dir=tmp_path / "first")
    (kept,) = (tmp_path / "first").glob("examples-*.npz")
    damaged = tmp_path / "second" / kept.name
    damaged.parent.mkdir()
    damaged.write_bytes(kept.read_bytes()[:100])
    engine = RulesEngine(parse_rules(document), cache_dir=damaged.parent)
    assert engine.triage(POSTS[0], "x", "mention").matched == ["billing"]
    assert ExamplesClassifier.load(damaged).classes == ("billing", "late", "thanks")  # written again, whole
