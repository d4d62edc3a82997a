"""bertgan: the two landmark models of the seeds, BERT and GAN, end to end.

Importing this package is cheap: it pulls in no torch and no transformers. Use the sub-packages
(``bertgan.gan``, ``bertgan.data`` …) or the ``bertgan`` command line.
"""

__version__ = "0.1.0"


def pipeline(task: str, model, **kwargs):
    """``bertgan.pipeline(task, model=DIR)`` with task ``fill-mask``, ``feature-extraction``, ``text-classification``,
    ``token-classification`` or ``question-answering``, named and shaped as in transformers."""
    from bertgan.bert.pipelines import pipeline as _pipeline

    return _pipeline(task, model, **kwargs)
