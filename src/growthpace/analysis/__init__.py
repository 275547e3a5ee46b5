"""A study's tables (``tables``) and their analysis (``analyze``: see ``pipeline``)."""


def analyze(*args, **kwargs):
    """``pipeline.analyze``, imported on first use so that importing ``analysis.tables`` stays light."""
    from .pipeline import analyze as run

    return run(*args, **kwargs)
