"""Space: load a space file and enumerate its valid configs (safe expressions, shapes files)."""
