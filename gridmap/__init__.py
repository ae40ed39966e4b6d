"""gridmap: grid-based city management (网格化城市管理) and street-scale planning."""

__version__ = "0.1.0"
