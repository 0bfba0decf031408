"""Steering vectors: the file format, readers and writers for other tools' formats, and (later) builders.

Import from the submodules (`steer_eval.vectors.format`, `.lmeval_pt`, `.files`); nothing is imported
eagerly here.
"""
