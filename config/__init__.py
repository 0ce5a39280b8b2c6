"""Settings and the default taxonomy, routing and SLA files, with their loaders."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
