"""Export: the C++ header with tuned configs, legality predicates and a lookup."""
