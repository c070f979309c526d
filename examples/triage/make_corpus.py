"""Write examples/triage/corpus.jsonl: hand-written posts per category, each with a few openers and endings.

Every fourth post (by position) is held out; bench/triage_bench.py scores only those.
"""

import json
from pathlib import Path

CATEGORIES = {
    ("double-charge", "red"): [
        "同じ注文なのにカード明細に2件載ってる", "請求が二重になってるっぽい", "一回しか買ってないのに2回分引かれた",
        "クレカの利用明細に同額が並んでて草", "決済が重複してます、確認してください", "二重請求されてますよね？",
        "I got billed twice for one order", "my bank shows two identical charges from you",
        "charged me 2x for a single purchase", "same amount taken out two times??",
    ],
    ("outage", "red"): [
        "サイト落ちてる？全然開かない", "アプリがずっと読み込み中で繋がらない", "ログイン出来ないんだけど障害？",
        "さっきから503しか出ない", "サーバーダウンしてません？", "ページがまったく表示されない",
        "is the site down for everyone?", "app down again, can't log in", "getting 502 on checkout",
        "the service is not working at all since 9am",
    ],
    ("defect", "red"): [
        "届いた商品が壊れてました", "初期不良っぽい、電源が入らない", "箱を開けたらガラスが割れてた",
        "1日で動かなくなった", "ふちが欠けてる", "破損した状態で届きました",
        "it arrived broken", "the item is defective", "stopped working after two days",
        "screen was damaged out of the box",
    ],
    ("wrong-item", "red"): [
        "注文と違う商品が届いた", "頼んだ色と違うんですが", "サイズが違うものが入ってた",
        "別の商品が送られてきました", "頼んでない物が来たｗ", "注文したのはMなのにLが届いた、違います",
        "you sent the wrong item", "got the wrong size", "this is not what i ordered",
        "wrong color arrived, I ordered black",
    ],
    ("flame-risk", "red"): [
        "対応最悪、拡散します", "消費者センターに相談します", "これ詐欺でしょ", "弁護士に相談する",
        "二度と使わない、最悪", "晒してやる", "worst support ever, never again", "this is a scam",
        "I'm talking to my lawyer", "going viral with this thread",
    ],
    ("account-security", "red"): [
        "アカウント乗っ取られたかも", "身に覚えのない注文がある", "不正アクセスされた？", "カードを不正利用された",
        "ハッキングされたみたい", "知らない端末からログイン通知が来て不正アクセスっぽい",
        "my account was hacked", "unauthorized purchase on my account", "someone hacked my login",
        "unauthorised charges showed up",
    ],
    ("refund-missing", "red"): [
        "返金されないんですけど", "返金がまだなんですが", "返金されていないです、2週間たちます",
        "返金まだですか？", "where is my refund", "still no refund after 3 weeks",
        "haven't received my refund yet", "refund not received",
    ],
    ("not-delivered", "orange"): [
        "荷物が届かない", "まだ届いてないです", "配送遅延してますか？", "発送まだですか",
        "注文から1週間、まだ届かない", "届いていないのですが", "荷物がいつになっても来ない",
        "where is my order", "my package hasn't arrived", "order not delivered yet",
        "delivery is delayed again", "tracking number doesn't update",
    ],
    ("returns", "orange"): [
        "返品したいです", "交換できますか", "返品の方法を知りたい", "サイズ交換お願いします",
        "can I return this", "how do I get a refund for this", "exchange for a bigger size please",
        "what's your return policy",
    ],
    ("purchase-intent", "orange"): [
        "この商品いつ再入荷しますか", "在庫ありますか", "購入したいんですが", "予約できますか",
        "値段はいくらですか", "is this in stock", "when will it be back in stock", "how much is the pro plan",
        "can I preorder the new model", "pricing for teams?",
    ],
    ("app-error", "orange"): [
        "アプリがエラーになる", "決済画面で固まる", "アプリがクラッシュします", "バグってない？",
        "更新したらフリーズする", "app crashes on launch", "I get an error when saving",
        "found a bug in the cart", "the app freezes on the checkout page",
    ],
    ("how-to", "green"): [
        "使い方を教えてください", "通知の設定方法がわからない", "どうやって住所を変えるの？", "やり方教えて",
        "how to change my address", "how do i turn off emails", "where can i find my invoice",
        "how can i add a second card",
    ],
    ("account-help", "green"): [
        "パスワードを忘れました", "アカウントを作り直したい", "退会したいです", "メールアドレス変更したい",
        "reset password please", "how do I delete my account", "forgot my password",
    ],
    ("coupon-question", "green"): [
        "このクーポンって使えないの？", "ポイントの使い方が知りたい", "割引コードは併用できますか",
        "クーポンが使えないんだけど期限切れ？", "does this coupon work on sale items",
        "promo code not applying, is it expired?",
    ],
    ("praise", "green"): [
        "いつも神対応ありがとう", "助かりました！", "ACMEストア大好き", "最高の対応でした",
        "thank you so much", "awesome service as always", "love the new update",
    ],
}
OPENERS = {"ja": ["", "すみません、", "@acmestore ", "ちょっと、"], "en": ["", "hey ", "@acmestore ", "hi, "]}
ENDINGS = {"ja": ["", "😭", "。", "…まじか"], "en": ["", " 😡", "!!", " pls"]}


def main() -> None:
    """Write the corpus next to this script."""
    rows = []
    for (rule_id, priority), posts in CATEGORIES.items():
        for number, post in enumerate(posts):
            lang = "en" if post.isascii() else "ja"
            for variant in range(4):
                opener = OPENERS[lang][(number + variant) % 4]
                ending = ENDINGS[lang][(number * 3 + variant) % 4]
                text = opener + post + ending
                rows.append({"text": text, "lang": lang, "priority": priority, "rule": rule_id})
    seen, unique = set(), []
    for row in rows:
        if row["text"] not in seen:
            seen.add(row["text"])
            unique.append(row)
    for index, row in enumerate(unique):
        row["split"] = "heldout" if index % 4 == 3 else "train"
    path = Path(__file__).with_name("corpus.jsonl")
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in unique), encoding="utf-8")
    print(len(unique), "posts written to", path)


if __name__ == "__main__":
    main()
