"""alfred's headless engine: search trees, the FLAG protocol, workers and results."""

from alfred_core.directory_tree import DirectoryTree
from alfred_core.errors import AlfredError
from alfred_core.flags import State
from alfred_core.recorder import MetricsReader, Recorder, read_tape
from alfred_core.tree import Root, RunDir, Search

__all__ = [
    "AlfredError",
    "DirectoryTree",
    "MetricsReader",
    "Recorder",
    "Root",
    "RunDir",
    "Search",
    "State",
    "read_tape",
]
__version__ = "0.1.0"
