"""A believable Wayback history for the sandbox readings that die, for ``linkkeeper demo``.

The real archive holds years of captures of a link before it broke, and often a later capture
of the breakage itself. :func:`seed_history` gives the sandbox Wayback Machine the same: good
copies from when each page was live, then a capture of the breakage that lists as an ordinary
200 in CDX (a soft 404 kept while the site was migrating) and the captured redirect or 404
that followed. A correct archive stage offers the last good copy and rejects the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from linkkeeper.sandbox.sites._common import article_page, og, page
from linkkeeper.sandbox.sites.medium import TDS_CHART
from linkkeeper.sandbox.sites.readings import TNW_DEEP
from linkkeeper.sandbox.wayback import WaybackMachine

TDS_URL = f"https://towardsdatascience.com/{TDS_CHART}"
TNW_URL = f"https://thenextweb.com{TNW_DEEP}"


@dataclass(frozen=True)
class Article:
    url: str
    title: str
    author: str
    site: str

    def html(self, paragraphs: int = 10) -> str:
        head = og(self.title, self.url, f"{self.title} by {self.author}", site=self.site)
        return article_page(
            self.title, head, f"By {self.author}", paragraphs, self.url, site=self.site
        )


TDS_ARTICLE = Article(
    TDS_URL, "The mostly complete chart of Neural Networks, explained", "Andrew Tch",
    "Towards Data Science",
)  # fmt: skip
TNW_ARTICLE = Article(
    TNW_URL,
    "Understanding transformers, the machine learning model behind GPT-3",
    "Ben Dickson",
    "TNW",
)


def soft_404(title: str, message: str) -> str:
    """A "not found" page as a site answered it with 200 for a while."""
    return page(title, f"<main><h1>{title}</h1><p>{message}</p></main>")


def seed_history(machine: WaybackMachine) -> None:
    """Captures of the two sandbox readings that are dead (see docs/sandbox.md)."""
    # towardsdatascience.com: live on Medium until 2025, then 404 when TDS left Medium.
    machine.seed(TDS_URL, "20170914081502", body=TDS_ARTICLE.html())
    machine.seed(TDS_URL, "20210302174410", body=TDS_ARTICLE.html())
    machine.seed(
        TDS_URL,
        "20250320061233",  # mid-migration: a "not found" page that answered 200
        body=soft_404("Page not found - Towards Data Science", "Oops, page not found."),
    )
    machine.seed(
        TDS_URL,
        "20250814103021",  # a capture_all capture of the 404 (CDX lists it as 404)
        statuscode=404,
        body=soft_404("Page not found - Towards Data Science", "We couldn't find that page."),
    )
    # thenextweb.com: live until 2023, a soft 404 for a while, then bounced to the home page.
    machine.seed(TNW_URL, "20201005132217", body=TNW_ARTICLE.html())
    machine.seed(TNW_URL, "20220517090342", body=TNW_ARTICLE.html())
    machine.seed(
        TNW_URL,
        "20230612154009",
        body=soft_404("Page not found | TNW", "This page doesn't exist (anymore)."),
    )
    machine.seed(TNW_URL, "20240305112901", statuscode=301, location="https://thenextweb.com/")
    home = page("TNW | The heart of tech", "<main><h1>TNW | The heart of tech</h1></main>")
    machine.seed("https://thenextweb.com/", "20240305112901", body=home)
