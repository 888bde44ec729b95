"""The one error type users see. Its message is the whole report: say what is wrong and what to do."""


class EmotiveError(ValueError):
    pass
