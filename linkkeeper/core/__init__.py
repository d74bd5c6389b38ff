"""Shared ground every stage stands on: the data model, text safety, atomic files, configuration,
HTML parsing, Ctrl-C, the collector's pace."""

from linkkeeper._face import lazy

# The stage's public face: name -> the module that holds it (imported on first
# use, so importing the stage stays cheap). Other stages import only these.
_FACE = {
    "atomic_write_bytes": "atomic",
    "atomic_write_many": "atomic",
    "atomic_write_text": "atomic",
    "CheckResult": "models",
    "ConfigError": "config",
    "Element": "htmltree",
    "FetchResult": "models",
    "find_config": "config",
    "first": "htmltree",
    "fsync_dir": "atomic",
    "Health": "models",
    "host_problem": "urlhost",
    "HostOverride": "config",
    "htmltree": "htmltree",
    "interruptible": "interrupt",
    "load_config": "config",
    "member": "models",
    "name_file": "atomic",
    "paced_collector": "gcpace",
    "parse": "htmltree",
    "reader_gone": "pipes",
    "Reading": "models",
    "run_async": "interrupt",
    "source_stamp": "stamp",
    "strings": "htmltree",
    "text_of": "htmltree",
    "textsafe": "textsafe",
    "Verdict": "models",
}
__getattr__ = lazy(__name__, _FACE)
