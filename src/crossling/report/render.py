"""The report's text: sections rendered as GitHub Markdown and as one static HTML page.

Markdown is assembled here (report.md must stay byte-stable); the HTML comes from the Jinja2
template ``templates/report.html.j2`` with autoescaping on, so every title, caption and cell is
escaped once, by the template engine. The page has inline CSS, no scripts and no external
resources: the PNGs lie beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import jinja2
import pandas as pd
from markupsafe import Markup

from crossling.report.markdown import fmt_cell, markdown_table
from crossling.report.sections import Section


def render_markdown(title: str, sections: Sequence[Section]) -> str:
    """The report as GitHub-flavoured Markdown (tables as pipe tables, figures as images)."""
    parts = [f"# {title}\n"]
    for s in sections:
        parts.append(f"## {s.title}\n\n{s.text}\n")
        for caption, table in s.tables:
            if len(s.tables) > 1:
                parts.append(f"**{caption}**\n")
            parts.append(markdown_table(table) + "\n")
        for name, caption in s.images:
            parts.append(f"![{caption}]({name})\n")
    return "\n".join(parts)


def html_table(table: pd.DataFrame) -> Markup:
    """A frame as an HTML table, cells escaped by pandas and formatted as in Markdown."""
    return Markup(table.to_html(index=False, na_rep="–", float_format=fmt_cell, border=0,
                                escape=True))


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("crossling.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["html_table"] = html_table
    return env


def render_html(title: str, sections: Sequence[Section]) -> str:
    """A static page: inline CSS, no scripts, images by relative file name."""
    return _environment().get_template("report.html.j2").render(title=title, sections=sections)
