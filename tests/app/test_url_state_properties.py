"""Property tests over UrlState's link parsers: any string in any parameter gives a valid value or the
default plus a notice in our own words, which carries nothing (no markdown control character, no
text at all) from the link."""
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st_
from streamlit.testing.v1 import AppTest

from explorer.text import MD_SPECIAL
from explorer.ui import state as S
from tests.app.test_url_state import _script

OPTIONS = ["head", "layer", "model"]
PARSERS = {   # name -> (parser, the reasons it may give, value check)
    "layer": (S.parse_int(0, 11), ["not a whole number", "outside 0..11"], lambda v: isinstance(v, int) and 0 <= v <= 11),
    "temp": (S.parse_float(0.1, 2.0), ["not a number", "outside 0.1..2"],
             lambda v: isinstance(v, float) and math.isfinite(v) and 0.1 <= v <= 2.0),
    "view": (S.parse_choice(OPTIONS), ["not one of the 3 choices"], lambda v: v in OPTIONS),
    "merge": (S.parse_flag(), ["not 0 or 1"], lambda v: v in (True, False)),
    "text": (S.parse_text(50), ["longer than 50 characters"], lambda v: isinstance(v, str) and len(v) <= 50),
    "stats": (S.parse_multi(["entropy", "sink", "self"]), ["an item that is not one of the choices"],
              lambda v: set(v) <= {"entropy", "sink", "self"}),
}


def _allowed(name):
    return {f"Ignored the link's `{name}` value ({r}); using the default." for r in PARSERS[name][1]}


# any text, with the hostile kinds drawn often: markdown, HTML, URLs, numbers, huge and control characters
hostile = st_.one_of(
    st_.text(),
    st_.text(alphabet=st_.characters(codec="utf-8")),
    st_.sampled_from(["![i](http://evil.example/t.png)", "[x](javascript:alert(1))", "<img src=x onerror=alert(1)>",
                      "www.evil.example", "a@evil.example", ":red[x] $x^2$", "1e999", "-0", " 7 ", "nan", "inf",
                      "0x10", "1_0", "٣", "9" * 5000, "\x00", "\u202e3", "entropy,,sink", "head\n", "1" * 40]),
    st_.from_regex(r"-?[0-9]{1,12}(\.[0-9]{0,6})?([eE][+-]?[0-9]{1,4})?", fullmatch=True),
    st_.text(min_size=1000, max_size=25_000).map(lambda s: s * 2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(name=st_.sampled_from(sorted(PARSERS)), raw=hostile)
def test_any_link_value_parses_or_gives_a_notice_in_our_words(name, raw):
    parse, _, valid = PARSERS[name]
    ok, value, notice = S.read(name, raw, parse)
    if ok:
        assert valid(value) and notice is None
    else:
        assert notice in _allowed(name)
        # nothing of the input: no markdown control character other than our template's own
        template = next(iter(_allowed(name)))
        assert {c for c in notice if c in MD_SPECIAL} <= {c for c in template if c in MD_SPECIAL} | set(".")
        # ... and no text of it either, unless the link's value happens to be a word of our own template ("link")
        if len(raw.strip()) >= 4 and raw.strip() not in template:
            assert raw.strip() not in notice


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw=hostile.filter(lambda s: "\x00" not in s and len(s) < 30_000))
def test_any_string_in_every_parameter_of_a_page_is_safe(raw):
    at = AppTest.from_function(_script, default_timeout=30)       # the UrlState test's page: six kinds of control
    for name in PARSERS:
        at.query_params[name] = raw
    at.run()
    assert not at.exception
    allowed = set().union(*(_allowed(n) for n in PARSERS))
    for box in at.info:
        assert box.value in allowed
    assert 0 <= at.slider[0].value <= 11 and 0.1 <= at.slider[1].value <= 2.0
    assert at.radio[0].value in ["head", "layer", "model"]
