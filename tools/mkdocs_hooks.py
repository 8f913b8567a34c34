"""mkdocs hooks of the docs site (mkdocs.yml ``hooks``).

docs/reproduction holds a report as ``crossling report`` writes it: README.md (the page of the
site) beside index.html (the same report as one HTML page). Both would be the site's
``reproduction/index.html``; the HTML report is published as ``reproduction/report.html``
instead, and the README's link to ``index.html`` follows it (mkdocs resolves links by source
file). The folder's files stay exactly as the report writer wrote them.
"""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files, InclusionLevel

HTML_REPORT = "reproduction/index.html"
PUBLISHED_AS = "reproduction/report.html"


def on_files(files: Files, config: Any) -> Files:
    excluded = next((f for f in files if f.src_uri == HTML_REPORT), None)
    if excluded is not None:
        files.remove(excluded)
    files.append(File(HTML_REPORT, config["docs_dir"], config["site_dir"],
                      config["use_directory_urls"], dest_uri=PUBLISHED_AS,
                      inclusion=InclusionLevel.NOT_IN_NAV))
    return files
