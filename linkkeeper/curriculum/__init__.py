"""The curriculum: readings.yaml loaded and validated, imported from a page, edited in place,
listed."""

from linkkeeper._face import lazy

# The stage's public face: name -> the module that holds it (imported on first
# use, so importing the stage stays cheap). Other stages import only these.
_FACE = {
    "Comment": "readings",
    "Curriculum": "readings",
    "CurriculumError": "readings",
    "Group": "readings",
    "import_page": "importer",
    "keep_pending": "cache",
    "link_text": "listing",
    "load": "readings",
    "load_cached": "cache",
    "PageError": "importer",
    "render": "listing",
    "Week": "readings",
}
__getattr__ = lazy(__name__, _FACE)
