"""Search: strategies propose configs, the driver compiles ahead, runs them and records the best."""
