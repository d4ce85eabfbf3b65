"""Sentences to score heads and neurons on, and the labelled data for a task metric.

The built-in set is 48 plain English sentences written for this package (varied topics, lengths and syntax).
The Lee corpus (50 news documents with 1,225 human-judged pair similarities, Lee, Pincombe & Welsh 2005) is
read from gensim's test data (gensim is a runtime dependency: the pruning notebook uses it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bertviz_graph.errors import UserError

BUILTIN_SENTENCES = [
    "The cat sat on the mat and watched the birds outside.",
    "Tom gave the old dog a bone before he left for work.",
    "A heavy storm closed the airport for most of the afternoon.",
    "She finished the marathon in just under four hours.",
    "The committee postponed its decision until next month.",
    "Fresh bread smells wonderful early in the morning.",
    "The river flooded the fields after three days of rain.",
    "He could not find his keys anywhere in the house.",
    "Scientists discovered a new species of frog in the rainforest.",
    "The company reported higher profits than analysts had expected.",
    "Please turn off the lights when you leave the room.",
    "The children built a sandcastle near the water.",
    "My brother plays the violin in a small orchestra.",
    "The museum opens at nine and closes at five.",
    "Prices of vegetables rose sharply during the drought.",
    "The new bridge will connect the two halves of the city.",
    "I would rather walk than wait for the bus in this cold.",
    "The teacher explained the theorem with a simple drawing.",
    "Our flight was delayed because of a technical problem.",
    "The garden is full of roses and tall sunflowers.",
    "Voters will choose a new mayor in the spring election.",
    "The recipe calls for two eggs and a cup of flour.",
    "He apologised for arriving late to the meeting.",
    "The film was long, but the ending was worth it.",
    "A small boat drifted slowly across the quiet lake.",
    "The doctor advised her to rest for a week.",
    "Engineers tested the engine under extreme temperatures.",
    "The library lends books, music and films for free.",
    "Why did the train stop in the middle of the tunnel?",
    "The striker scored twice in the second half.",
    "They painted the kitchen a bright shade of yellow.",
    "The police are looking for witnesses to the accident.",
    "Learning a language takes patience and daily practice.",
    "The moon was hidden behind thick clouds all night.",
    "The bank raised interest rates for the third time this year.",
    "A loud noise woke the whole street at midnight.",
    "The software update fixed several security problems.",
    "She wrote a letter to her grandmother every Sunday.",
    "The volcano erupted, sending ash high into the sky.",
    "Farmers hope the harvest will be better than last year.",
    "The actor thanked his family when he won the award.",
    "It is dangerous to swim when the sea is this rough.",
    "The government announced new measures to reduce pollution.",
    "The puppy chewed through the cable of the lamp.",
    "The orchestra played until the last guests had gone home.",
    "Students protested against the rise in tuition fees.",
    "The shop on the corner sells newspapers and sweets.",
    "Nobody expected the quiet student to win the debate.",
]


def read_sentences(path: str | Path) -> list[str]:
    """One sentence per non-empty line of a UTF-8 text file."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"no such sentence file: {p}", "give a text file with one sentence per line")
    lines = [s.strip() for s in p.read_text(encoding="utf-8", errors="replace").splitlines()]
    lines = [s for s in lines if s]
    if not lines:
        raise UserError(f"{p} has no sentences", "write one sentence per line")
    return lines


def _gensim_file(name: str) -> Path:
    try:
        from gensim.test.utils import datapath
    except ImportError as e:
        raise UserError("the Lee similarity task needs gensim's test data (gensim is not installed)",
                        "pip install gensim, or give your own sentences with --sentences") from e
    return Path(datapath(name))


def lee_corpus() -> tuple[list[str], np.ndarray]:
    """(50 documents, 50×50 human similarity matrix, upper triangle meaningful)."""
    docs = _gensim_file("lee.cor").read_text(encoding="latin-1").splitlines()
    docs = [d.strip() for d in docs if d.strip()]
    sims = np.loadtxt(_gensim_file("similarities0-1.txt"))
    return docs, sims


def pang_lee_sentences() -> tuple[list[str], list[int]]:
    """200 movie-review sentences with polarity labels (gensim test data), for benchmarks."""
    rows = _gensim_file("pang_lee_polarity.cor").read_text(encoding="latin-1").splitlines()
    texts, labels = [], []
    for r in rows:
        lab, _, text = r.partition(" ")
        if text:
            texts.append(text)
            labels.append(1 if lab.endswith("pos") else 0)
    return texts, labels


def batches(tokenizer, texts: list[str], batch_size: int = 32, max_length: int = 128,
            keep_order: bool = False) -> list[dict]:
    """Tokenized batches, padded per batch; sorted by length (little padding computed) unless
    ``keep_order``."""
    order = list(range(len(texts)))
    if not keep_order:
        order.sort(key=lambda i: len(texts[i]))
    out = []
    for s in range(0, len(order), batch_size):
        chunk = [texts[i] for i in order[s:s + batch_size]]
        enc = tokenizer(chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        out.append({k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")})
    return out


# A small labelled set for the probe metric when neither labelled sentences nor gensim are given:
# 24 positive and 24 negative one-line opinions written for this package (1 = positive).
BUILTIN_LABELLED = [
    (1, "A warm, funny film that I would happily watch again."), (0, "The plot was dull and the acting wooden."),
    (1, "The staff were friendly and the food was delicious."), (0, "Cold soup, rude waiters and a long wait."),
    (1, "This phone is fast, light and the battery lasts for days."), (0, "The screen cracked after one week."),
    (1, "A beautiful, moving story told with real care."), (0, "Two hours of noise with nothing to say."),
    (1, "The hotel room was spotless and the view was wonderful."), (0, "The room smelled of smoke and mould."),
    (1, "Clear instructions, and it worked the first time."), (0, "It broke the first time I used it."),
    (1, "The concert was a joy from the first note to the last."), (0, "The sound was muddy and the band bored."),
    (1, "A clever, gripping book I could not put down."), (0, "A tedious book that I gave up on halfway."),
    (1, "Our guide was brilliant and the trip was unforgettable."), (0, "The tour was rushed, crowded and dull."),
    (1, "Delivery was quick and the parcel arrived in perfect shape."), (0, "The parcel came late and damaged."),
    (1, "The new update makes everything smoother and faster."), (0, "Since the update the app keeps crashing."),
    (1, "Lovely park, kind people and great coffee nearby."), (0, "A dirty, noisy place I will never visit again."),
    (1, "The lecture was inspiring and easy to follow."), (0, "The lecture was confusing and far too long."),
    (1, "Excellent value: it does everything I hoped for."), (0, "A waste of money that does not even work."),
    (1, "The actors are superb and the ending is perfect."), (0, "The jokes fall flat and the ending is silly."),
    (1, "Comfortable shoes that fit perfectly from day one."), (0, "These shoes hurt and fell apart in a month."),
    (1, "A delightful little restaurant with a generous chef."), (0, "Overpriced, bland dishes served cold."),
    (1, "The game is fun, fair and beautifully designed."), (0, "The game is unfair, buggy and boring."),
    (1, "Support solved my problem in minutes. Thank you!"), (0, "Support ignored my emails for three weeks."),
    (1, "What a fantastic match, the best I have seen all year."), (0, "A miserable match with no chances at all."),
    (1, "The garden looks gorgeous after the new planting."), (0, "The garden is overgrown and full of rubbish."),
    (1, "I love how simple and quiet this machine is."), (0, "The machine is loud, slow and hard to clean."),
    (1, "A sweet, uplifting song that makes my day."), (0, "An irritating song I cannot wait to forget."),
    (1, "The museum was fascinating and beautifully arranged."), (0, "The museum was cramped, dark and boring."),
]


def read_labelled(path: str | Path) -> tuple[list[str], list[str]]:
    """(sentences, labels) from a UTF-8 file: one sentence a line, its label the first word
    (``pos The film was great.``; fastText's ``__label__pos`` works too)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"no such labelled-sentence file: {p}",
                        "give a text file with one 'LABEL sentence' per line")
    texts, labels = [], []
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        lab, _, text = line.strip().partition(" ")
        if text.strip():
            texts.append(text.strip())
            labels.append(lab.removeprefix("__label__"))
    if len(set(labels)) < 2:
        raise UserError(f"{p} needs sentences of at least two labels (found {len(set(labels))})",
                        "write one 'LABEL sentence' per line, e.g. 'pos A fine film.'")
    return texts, labels


def probe_sentences(path: str | Path | None = None) -> tuple[list[str], list[str], str]:
    """Labelled sentences for the probe: the given file, else gensim's 200 Pang & Lee movie-review
    sentences, else the 48 built-in opinions. Returns (texts, labels, where they came from)."""
    if path is not None:
        texts, labels = read_labelled(path)
        return texts, labels, str(path)
    try:
        texts, lab = pang_lee_sentences()
        return texts, ["pos" if y else "neg" for y in lab], "pang_lee_polarity.cor (gensim test data)"
    except UserError:
        return ([t for _, t in BUILTIN_LABELLED], ["pos" if y else "neg" for y, _ in BUILTIN_LABELLED],
                "48 built-in opinions")
