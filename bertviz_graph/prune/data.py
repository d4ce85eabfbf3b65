"""Sentences to score heads and neurons on, and the labelled data for a task metric.

The built-in set is 48 plain English sentences written for this package (varied topics, lengths and syntax).
The Lee corpus (50 news documents with 1,225 human-judged pair similarities, Lee, Pincombe & Welsh 2005) is
read from gensim's test data when gensim is installed; gensim is optional (a test/benchmark extra).
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
