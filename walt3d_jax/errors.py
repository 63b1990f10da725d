"""The project's user errors: a mistake in what the user gave, not a bug of ours.

A job that raises `UserError` (or a subclass: `CameraError`, `BankError`, `DetectionsError`,
`FrameSourceError`, ...) ends in one line on stderr and exit code 2 when run through the launcher
(`walt3d_jax.launch`); any other exception is a bug and keeps its traceback. The message names the
file or config field and what was expected, e.g.
`cam7/camera.json: field 'K': expected a 3x3 matrix, got shape (2, 3)`.

`UserError` is a `ValueError`: every user-facing error of this code was one before, and callers
that catch `ValueError` keep working. Imports nothing of the project, so every layer may use it.
"""


class UserError(ValueError):
  """A file, a config field or a value given by the user is missing or wrong.

  The message alone must tell the user what to fix: the file or field, and what was expected.
  """
