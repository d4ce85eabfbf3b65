"""Running a real sentence through a model: load it (load.py), capture every op's output (capture.py)."""
