"""Demo steps, run in file-name order (sNN_topic.py)."""
