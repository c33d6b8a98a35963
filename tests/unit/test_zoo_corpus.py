"""The corpus builders of explorer/zoo: a seeded ticket grammar (same seed -> same bytes) and clean prose."""
import re

import pytest

from explorer import families
from explorer.zoo import prose, tickets

TICKETS_200_SEED_0 = "6ffcdf8f01612959d568a4d7fc23f54b6d299947f893fbe4cb540f854bf684e1"


def test_ticket_grammar_is_deterministic_and_pinned():
    docs = tickets.documents(200, seed=0)
    assert tickets.digest(docs) == TICKETS_200_SEED_0          # a changed grammar shows up here first
    assert tickets.documents(200, seed=0) == docs
    assert tickets.documents(200, seed=1) != docs


def test_tickets_are_multi_sentence_documents_with_a_label_line():
    g = tickets.Grammar(3)
    for _ in range(50):
        t = g.ticket()
        doc = t.document()
        assert t.label in tickets.LABELS
        assert f"\nLabel: {t.label}\nAgent: " in doc
        assert len(re.findall(r"[.?!]", t.message)) >= 3          # several sentences, not one line
        assert re.search(r"#\d{5}|\d", doc) or t.label == "Account"


def test_labelled_lists_use_the_few_shot_layout():
    doc = tickets.Grammar(0).labelled_list()
    items = doc.split("\n\n")
    if items[0].startswith("Classify"):          # the Families page's instruction line
        assert doc.startswith(families.build_prompt("", (), tickets.LABELS).split("Message:")[0])
        items = items[1:]
    assert 4 <= len(items) <= 7
    for item in items:
        message, label = item.split("\n")
        assert message.startswith(f"{tickets.FEW_SHOT_FIELD}: ")
        assert label.removeprefix("Label: ") in tickets.LABELS


def test_lessons_examples_are_openers_of_their_labels():
    assert "I never received my package." in tickets.OPENERS["Shipping"]
    assert "I want my money back." in tickets.OPENERS["Refund"]
    assert "I forgot my password." in tickets.OPENERS["Account"]
    assert "Where is my order?" in tickets.OPENERS["Shipping"]


def test_heldout_messages_are_balanced_over_labels():
    items = tickets.heldout_messages(30, seed=1000)
    assert [lab for _, lab in items].count("Refund") == 10
    assert all(m and m[0].isupper() for m, _ in items)


@pytest.mark.parametrize("markup, text", [
    (":func:`len` returns the length", "len returns the length"),
    ("see :ref:`the tutorial <tut-intro>` first", "see the tutorial first"),
    ("use ``print(x)`` and *emphasis* or **strong**", "use print(x) and emphasis or strong"),
    ("`Python <https://python.org>`_ is here", "Python is here"),
    ("For example::", "For example:"),
    ("IPython_ has __call__ methods", "IPython has __call__ methods"),
])
def test_prose_markup_is_stripped(markup, text):
    assert prose.plain(markup) == text


def test_prose_keeps_paragraphs_and_drops_code():
    src = ("Title\n=====\n\nThis is a paragraph of running prose. It has two sentences in it, and more words.\n\n"
           "Example::\n\n   >>> 1 + 1\n   2\n\n.. note::\n\n   A directive body.\n\n"
           "Second\n------\n\nAnother paragraph, in the second section, long enough to count as running prose here.\n")
    assert prose.sections(src) == [["This is a paragraph of running prose. It has two sentences in it, and more words."],
                                   ["Another paragraph, in the second section, long enough to count as running prose here."]]


def test_prose_documents_come_from_the_installed_package():
    docs = prose.documents()
    assert len(docs) > 500 and all(len(d) >= 80 for d in docs)
    assert not any(re.search(r"``|:[a-z]+:`", d) or d.startswith("..") for d in docs)
    assert max(len(d) for d in docs) < 2 * prose.MAX_DOC_CHARS
