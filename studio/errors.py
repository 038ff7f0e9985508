"""The one exception type for errors a user can cause (bad file, bad parameter, missing model).

The CLI and the UI catch it and show its message as one line; anything else is a bug and may show a traceback.
"""


class StudioError(Exception):
    """A problem the user can fix; the message says what is wrong and what to do."""
