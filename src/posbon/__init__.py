"""posbon: find terrorist and violent-extremist recruitment content, and act on it fairly."""

__version__ = "0.1.0"
