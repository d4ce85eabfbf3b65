"""A 512-entry WordPiece vocab.txt for the fixtures' tokenizer: BERT's special tokens, a few words and
characters (a real BERT vocab has 30522 entries: 3.9 MB of embeddings at hidden 32, over the 2 MB a test
file may weigh)."""

from __future__ import annotations

import string

from common import OUT, SPEC


def main() -> None:
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!", ",", "-", "?", ".", "the", "cat", "sat", "on",
             "mat", "a", "dog", "ran", "in", "park", "is", "was", "and", "of", "to", "it", "he", "she", "they",
             "we", "you", "i", "this", "that", "bank", "river", "money", "house", "red", "blue", "big", "small"]
    words += list(string.ascii_lowercase) + list(string.digits)
    words += ["##" + c for c in string.ascii_lowercase + string.digits]
    words += ["##s", "##ed", "##ing", "##ly", "##er"]
    seen: list[str] = []
    for w in words:
        if w not in seen:
            seen.append(w)
    k = 0
    while len(seen) < SPEC["vocab"]:
        seen.append(f"[unused{k}]")
        k += 1
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "vocab.txt").write_text("\n".join(seen) + "\n")


if __name__ == "__main__":
    main()
