"""Build: compile one config into a library or code object through a content-addressed cache."""
