"""The sandbox web: the reading list's real hosts and the generic trouble hosts, on loopback.

:func:`web_hosts` is the table of every virtual host (docs/sandbox.md describes each path and
the verdict a correct checker gives). Counters and clocks live in one module-level state;
:func:`reset_web_state` clears them between tests.
"""

from __future__ import annotations

from linkkeeper.sandbox._server import VirtualHost
from linkkeeper.sandbox.sites import (
    arxiv,
    generic,
    medium,
    mirror,
    nature,
    readings,
    trouble,
    verdicts,
    youtube,
)
from linkkeeper.sandbox.sites._common import WEB_STATE, WebSettings, WebState, reset_web_state

__all__ = ["WEB_STATE", "WebSettings", "WebState", "reset_web_state", "web_hosts"]


def web_hosts() -> list[VirtualHost]:
    """Every sandbox web host; ``True`` = the http:// port answers 301 to https://."""
    apps = [
        # the reading list's hosts
        ("arxiv.org", arxiv.arxiv_app, True),
        ("export.arxiv.org", arxiv.export_app, False),
        ("towardsdatascience.com", medium.tds_app, True),
        ("medium.com", medium.medium_app, True),
        ("uxdesign.cc", medium.uxdesign_app, True),
        ("www.nature.com", nature.nature_app, True),
        ("idp.nature.com", nature.idp_app, True),
        ("www.youtube.com", youtube.youtube_app, True),
        ("mirror.xyz", mirror.mirror_app, True),
        ("thenextweb.com", readings.thenextweb_app, True),
        ("jalammar.github.io", readings.jalammar_app, True),
        ("playground.tensorflow.org", readings.playground_app, True),
        ("www.technologyreview.com", readings.technologyreview_app, True),
        ("www2.csudh.edu", readings.csudh_app, True),
        ("www.robinsloan.com", readings.robinsloan_app, True),
        ("www.quantamagazine.org", readings.quanta_app, True),
        ("tvm.apache.org", readings.tvm_app, True),
        # generic behaviours
        ("blog.example", generic.blog_app, True),
        ("soft.example", generic.soft_app, False),
        ("parked.example", generic.parked_app, False),
        ("trouble.example", trouble.trouble_app, False),
        ("news.example", verdicts.news_app, False),
        ("intl.example", verdicts.intl_app, False),
        ("thai.example", verdicts.thai_app, False),
        ("home.example", verdicts.home_app, False),
        ("app.example", verdicts.app_app, False),
        ("down500.example", verdicts.down_app(500), False),
        ("down502.example", verdicts.down_app(502), False),
        ("down504.example", verdicts.down_app(504), False),
        ("maintenance.example", verdicts.down_app(503, "3600"), False),
    ]
    hosts = [VirtualHost(name, make_app, redirects) for name, make_app, redirects in apps]
    return [
        *hosts,
        VirtualHost.blackhole("blackhole.example"),
        VirtualHost.refused("refused.example"),
    ]
