"""DxTrace pipeline: case sets, generation, grading, statistics, clustering, agreement, exports."""

__version__ = "0.1.0"
