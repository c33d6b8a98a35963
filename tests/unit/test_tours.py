"""Lesson tours: the schema, the loader's checks, skipping steps whose page is not built, the shipped files."""
import pytest

from explorer import tours as T

GOOD = '''
title = "A tour"
audience = "anyone"
order = 7

[[steps]]
title = "first"
page = "kv-cache"
params = { view = "sharing", kv = 1, theta = 0.4, logx = true, pairs = [0, 1, 4] }
caption = "Look here."
shows = ["1.00 GiB"]
note = "for the teacher"

[steps.ask]
question = "Which?"
choices = ["a", "b", "c"]
answer = "b"
why = "because"

[[steps]]
page = "families"
caption = "Later."
'''


def problems_of(text: str, tour_id: str = "t") -> list[str]:
    with pytest.raises(T.TourError) as e:
        T.parse(text, tour_id)
    return e.value.problems


def test_a_good_tour_parses_with_link_values_as_the_link_carries_them():
    t = T.parse(GOOD, "a-tour")
    assert (t.id, t.title, t.audience, t.order, len(t)) == ("a-tour", "A tour", "anyone", 7, 2)
    s = t.steps[0]
    assert s.query == {"view": "sharing", "kv": "1", "theta": "0.4", "logx": "1", "pairs": "0,1,4"}
    assert (s.title, s.note, s.shows, s.number) == ("first", "for the teacher", ("1.00 GiB",), 1)
    assert s.ask == T.Check("choice", "Which?", ("a", "b", "c"), "b", "because")
    assert s.ask.answer_index == 1
    assert t.steps[1].ask is None and t.steps[1].query == {} and t.steps[1].number == 2


def test_steps_on_pages_not_built_are_skipped_with_a_note_never_an_error():
    t = T.resolve(T.parse(GOOD, "a-tour"), built={"kv-cache"})
    assert [s.page for s in t.steps] == ["kv-cache"]
    assert t.skipped == (T.Skipped(2, "families"),)
    assert t.waiting_for == ["families"]
    assert t.skip_note({"families": "Families"}) == \
        "1 step of this tour waits for a page not built yet (Families) and is left out."
    assert T.resolve(T.parse(GOOD, "a-tour"), built={"kv-cache", "families"}).skip_note() is None
    none_built = T.resolve(T.parse(GOOD, "a-tour"), built=set())
    assert not none_built.runnable and len(none_built) == 0


@pytest.mark.parametrize("change, expected", [
    (lambda s: s.replace('title = "A tour"\n', ""), "tour: `title` is missing"),
    (lambda s: s.replace('order = 7', 'order = "seven"'), "tour: `order` must be a whole number"),
    (lambda s: s.replace('audience = "anyone"', 'colour = "red"'), "tour: unknown key 'colour'"),
    (lambda s: s.replace('answer = "b"', 'answer = "d"'), "step 1, ask: `answer` 'd' is not one of the choices"),
    (lambda s: s.replace('choices = ["a", "b", "c"]', 'choices = ["a"]'), "step 1, ask: `choices` must be a list"),
    (lambda s: s.replace('choices = ["a", "b", "c"]', 'choices = ["a", "b", "b"]'), "step 1, ask: two choices are"),
    (lambda s: s.replace('why = "because"', 'kind = "quiz"'), "step 1, ask: `kind` must be one of choice, predict"),
    (lambda s: s.replace('why = "because"', 'kind = "predict"'), "step 1, ask: a predict check has no `answer`"),
    (lambda s: s.replace('kv = 1,', 'step = 3,'), "step 1: `step` cannot be a link parameter (the tour itself"),
    (lambda s: s.replace('kv = 1,', 'kv = { a = 1 },'), "step 1: parameter `kv` must be text, a number"),
    (lambda s: s.replace('page = "kv-cache"', 'page = "KV Cache!"'), "step 1: `page` 'KV Cache!' is not a page"),
    (lambda s: s.replace('caption = "Later."', ''), "step 2: `caption` is missing"),
    (lambda s: s.replace('caption = "Later."', 'caption = 5'), "step 2: `caption` must be text, not int"),
    (lambda s: s.replace('caption = "Later."', 'caption = "   "'), "step 2: `caption` is empty"),
    (lambda s: s.replace('shows = ["1.00 GiB"]', 'shows = [1]'), "step 1: `shows` must be a list of texts"),
    (lambda s: s.replace('caption = "Later."', 'caption = "' + "x" * 700 + '"'), "step 2: `caption` is longer"),
    (lambda s: s.replace('note = "for', 'notes = "for'), "step 1: unknown key 'notes'"),
    (lambda s: s.split("[[steps]]")[0], "tour: no steps"),
    (lambda s: s + "\n[[steps\n", "not valid TOML"),
])
def test_every_schema_problem_is_reported_with_where_it_is(change, expected):
    found = problems_of(change(GOOD))
    assert any(p.startswith(expected) for p in found), found


def test_all_problems_of_a_file_are_reported_at_once():
    bad = GOOD.replace('title = "A tour"\n', "").replace('answer = "b"', 'answer = "z"').replace('caption = "Later."', "")
    assert len(problems_of(bad)) == 3


def test_a_file_name_must_make_a_clean_link():
    assert problems_of(GOOD, "My Tour") == ["file name 'My Tour' must be lower-case letters, digits and dashes"]


def test_too_many_steps_is_an_error():
    many = GOOD.split("[[steps]]")[0] + '\n[[steps]]\npage = "rope"\ncaption = "c"\n' * (T.MAX_STEPS + 1)
    assert any("at most 30" in p for p in problems_of(many))


def test_page_names_must_be_pages_of_the_app():
    t = T.parse(GOOD, "a")
    assert T.check_pages(t, {"kv-cache", "families"}) == []
    assert T.check_pages(t, {"kv-cache"}) == ["step 2: no page 'families' (pages: kv-cache)"]


@pytest.mark.parametrize("raw, n, expected", [("3", 5, 3), (" 1 ", 5, 1), ("5", 5, 5), ("0", 5, None), ("6", 5, None),
                                              ("-1", 5, None), ("x", 5, None), (None, 5, None), ("2.5", 5, None)])
def test_step_number_from_the_link(raw, n, expected):
    assert T.step_number(raw, n) == expected


def test_a_broken_file_is_reported_beside_the_good_ones(tmp_path):
    (tmp_path / "good.toml").write_text(GOOD)
    (tmp_path / "bad.toml").write_text("title = 1")
    (tmp_path / "latin1.toml").write_bytes('title = "caf\xe9"'.encode("latin-1"))
    tours, broken = T.load_all({"kv-cache"}, folder=tmp_path)
    assert [t.id for t in tours] == ["good"]
    assert sorted(e.source.rsplit("/", 1)[-1] for e in broken) == ["bad.toml", "latin1.toml"]


# ---------------------------------------------------------------------------- the shipped tours
SHIPPED = T.tour_files()


def test_at_least_five_tours_ship_in_the_lessons_order():
    tours = [T.read(p) for p in SHIPPED]
    assert len(tours) >= 5
    assert {"families", "decoder", "gqa-mqa", "rope", "moe"} <= {t.id for t in tours}
    by_order = [t.id for t in sorted(tours, key=lambda t: t.order)][:5]
    assert by_order == ["families", "decoder", "gqa-mqa", "rope", "moe"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_tour_validates_and_has_6_to_12_steps(path):
    from explorer.ui.tour import known_pages
    tour = T.read(path)
    assert 6 <= len(tour) <= 12
    assert T.check_pages(tour, known_pages()) == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_step_of_a_built_page_promises_something_computed(path):
    """A step on a built page names what its view shows (the app test checks it is there)."""
    from explorer.ui.tour import pages
    ready = T.resolve(T.read(path), pages())
    assert all(s.shows for s in ready.steps), [s.number for s in ready.steps if not s.shows]


def test_the_lessons_numbers_are_promised_by_the_tours():
    shows = {t.id: {x for s in t.steps for x in s.shows} for t in map(T.read, SHIPPED)}
    assert {"32.00 GiB", "8.00 GiB", "1.00 GiB"} <= shows["gqa-mqa"]
    assert {"0.936998", "-0.794779"} <= shows["rope"]
    assert {"46.7B", "12.9B"} <= shows["moe"]
    assert {"returns: refund 0.87", "shipping: delayed 0.818"} <= shows["moe"]


@pytest.mark.parametrize("blob, text, found", [
    ("MQA · 1 KV head\n1.00 GiB\n0.031 × MHA", "1.00 GiB", True),
    ("MHA\n32.00 GiB", "2.00 GiB", False),
    ("weight 0.870", "0.87", False),
    ("returns: refund 0.87\nx", "returns: refund 0.87", True),
    ("score -0.794779", "0.794779", False),
    ("score -0.794779", "-0.794779", True),
    ("Bidirectional: 12% of the weight", "Bidirectional:", True),
    ("[MASK] #1 (token 3)", "[MASK] #1", True),
    ("[MASK] #12", "[MASK] #1", False),
])
def test_a_promised_text_must_be_shown_whole(blob, text, found):
    from explorer.ui.tour_check import shows
    assert shows(blob, text) is found


def test_no_page_reads_the_tours_link_names():
    """`tour`, `step`, `solo` and `prog` belong to the tour bar on every page: a page control with one of them would read the
    tour's step as its own (and rewrite it in the link). Call it something else (the tiling step is `tile`)."""
    import re
    root = T.ROOT
    offenders = [f"{p.relative_to(root)}:{i}" for p in [*root.glob("pages/*.py"), *root.glob("explorer/ui/*.py")]
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if re.search(r"""\.(int|float|text|choice|flag|multi|parsed|key)\(\s*["'](tour|step|solo|prog)["']""", line)]
    assert offenders == []
