"""Errors a user can cause and fix. The CLI prints them as one line and exits non-zero."""


class ClassifierError(Exception):
    """Base of every error caused by input rather than by a bug."""


class ListFileError(ClassifierError):
    """A bad row in a .lst file; names the file and the 1-based line."""

    def __init__(self, path, line: int, message: str):
        self.path = str(path)
        self.line = line
        self.reason = message
        super().__init__(f"{self.path}:{line}: {message}")


class RecordIOError(ClassifierError):
    """A .rec or .idx file that is not valid MXNet RecordIO."""


class HyperparameterError(ClassifierError):
    """Every problem found in one set of hyperparameters, reported together."""

    def __init__(self, problems: dict[str, str]):
        self.problems = dict(problems)
        listed = "; ".join(f"{name}: {why}" if name else why for name, why in self.problems.items())
        super().__init__(f"invalid hyperparameters: {listed}")


class ArtifactError(ClassifierError):
    """A model.tar.gz that is malformed or does not fit the requested training."""


class PretrainedWeightsMissing(ClassifierError):
    """Transfer learning asked for weights that are not in the local model store."""


class ImageDecodeError(ClassifierError):
    """Bytes that are not a JPEG or PNG image we can decode."""


class TrainingCancelled(Exception):
    """Raised out of the training loop when its cancel check says stop (not a user error)."""
