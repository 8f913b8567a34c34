"""The control task's tags: a seeded function of the word type, drawn from a distribution."""

from __future__ import annotations

from collections import Counter

import numpy as np

from crossling.probing.data import control_tags

TAGS = {"NOUN": 0.4, "VERB": 0.3, "ADJ": 0.2, "ADV": 0.1}


def test_control_tags_are_a_function_of_the_word_type_only() -> None:
    words = [f"w{i}" for i in range(4000)]
    tags = control_tags(words, TAGS, seed=3)
    assert set(tags) <= set(TAGS)
    # the same type gets the same tag wherever it occurs, in any order or set
    again = control_tags([*list(reversed(words)), "w7", "w7"], TAGS, seed=3)
    assert again[:4000] == list(reversed(tags)) and again[4000:] == [tags[7]] * 2
    # drawn from the distribution (4000 draws: within 3 points of each probability)
    freq = Counter(tags)
    for tag, p in TAGS.items():
        assert abs(freq[tag] / len(words) - p) < 0.03, tag
    # another seed is another assignment; the tag never depends on the gold tag
    other = control_tags(words, TAGS, seed=4)
    assert 0.5 < np.mean([a != b for a, b in zip(tags, other, strict=True)]) < 0.8
