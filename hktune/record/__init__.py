"""Record: the results table and the one rule that turns a measurement into a table entry."""
