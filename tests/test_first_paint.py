"""The index page's first picture (app/first_paint.py) is inert JSON whatever the SVG's text holds."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from bertviz_graph.app.first_paint import TAG_ID, picture_tag


class _Scripts(HTMLParser):
    """The text of each <script> as the browser's HTML parser splits it (the standard library's parser)."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))

    def handle_data(self, data):
        if self._open is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._open = None


def test_a_hostile_label_cannot_close_the_element():
    picture = {"svg": '<svg><text>a </script><script>alert(1)</script> <!-- b & "c"</text></svg>',
               "marks": {"selected": "x</script>", "matches": ["<!--"]}}
    page = _Scripts()
    page.feed("<body>" + picture_tag(picture) + "<p>after</p></body>")
    # the alert never became a script of its own: the JSON, then the page's own plain-SVG drawer
    assert [attrs for attrs, _ in page.scripts] == [{"type": "application/json", "id": TAG_ID}, {}]
    assert json.loads(page.scripts[0][1]) == picture
    assert "alert" not in page.scripts[1][1]
