"""Reports: JSON lines for machines, a self-contained HTML page for people."""
