"""`steer-eval check`: a CI gate over an expectations file (spec.py: the schema; gate.py: running the
cells the expectations need and judging them; outputs.py: the table, JUnit XML and Markdown summary)."""
