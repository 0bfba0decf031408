"""The one failure contract of steer-eval: problems with the user's input raise `SteerEvalError`.

Every message names the problem and how to fix it. The CLI prints it as a single line and exits with
`EXIT_BAD_INPUT`, never a traceback. Bugs in steer-eval itself stay ordinary exceptions.
"""

from __future__ import annotations

EXIT_BAD_INPUT = 2


class SteerEvalError(Exception):
    """A problem with the user's input (files, arguments, model/vector fit)."""


class VectorFileError(SteerEvalError):
    """A vector file is missing, corrupt, unsafe or malformed."""


class VectorMismatchError(SteerEvalError):
    """A vector does not fit the model it is applied to (size, layer, site, head)."""


class ModelStructureError(SteerEvalError):
    """The model's decoder blocks or a requested site could not be found."""
