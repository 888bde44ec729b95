"""The errors users see. Their message is the whole report: say what is wrong and what to do."""


class EmotiveError(ValueError):
    pass


class FormatError(EmotiveError):
    """A file that cannot be read as its format claims, with where: the file, and the frame or
    line when known (readers in rigs/formats/)."""

    def __init__(self, path, frame: int | None, what: str):
        self.path, self.frame, self.what = str(path), frame, what
        where = f"'{self.path}'" + (f", frame {frame}" if frame is not None else "")
        super().__init__(f"{where}: {what}")
