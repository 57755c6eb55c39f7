"""Run: a worker process per device verifies and times compiled configs."""
