"""The judges: one module per site family (sites/) and the soft-404 detector; they turn answers
into verdicts."""

from linkkeeper._face import lazy

# The stage's public face: name -> the module that holds it (imported on first
# use, so importing the stage stays cheap). Other stages import only these.
_FACE = {
    "arxiv": "sites",
    "ArxivPaper": "sites.arxiv",
    "Field": "sites",
    "for_members": "soft404",
    "Found": "sites",
    "found": "sites",
    "is_pdf": "sites.pdf",
    "judge_copy": "sites.generic",
    "Judgement": "sites",
    "LOW_CONFIDENCE": "sites",
    "PageRules": "sites.generic",
    "pdf": "sites",
    "Site": "sites",
    "site_for": "sites",
}
__getattr__ = lazy(__name__, _FACE)
