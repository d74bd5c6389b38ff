"""The Wayback Machine client and the archive run: save, find and verify captures."""

from linkkeeper._face import lazy

# The stage's public face: name -> the module that holds it (imported on first
# use, so importing the stage stays cheap). Other stages import only these.
_FACE = {
    "ArchiveOptions": "command",
    "ArchiveRun": "run",
    "ArchiveSettings": "run",
    "ArchiveUsageError": "run",
    "Keys": "iakeys",
    "KeysError": "iakeys",
    "load_keys": "iakeys",
    "main": "command",
    "Pacer": "wayback",
    "run_archive": "command",
    "State": "run",
    "SUMMARY_ORDER": "run",
    "WaybackClient": "wayback",
}
__getattr__ = lazy(__name__, _FACE)
