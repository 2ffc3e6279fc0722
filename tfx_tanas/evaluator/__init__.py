"""The evaluator network (claim 10), in parts.

* :mod:`~tfx_tanas.evaluator.config`: :class:`EvaluatorConfig`, the training choices;
* :mod:`~tfx_tanas.evaluator.network`: one member network and its one forward pass;
* :mod:`~tfx_tanas.evaluator.fit`: the training loop and its losses;
* :mod:`~tfx_tanas.evaluator.ensemble`: :class:`ArchitectureEvaluator` (fit, predict, task_scorer);
* :mod:`~tfx_tanas.evaluator.storage`: the evaluator directory (manifest + NumPy weights).
"""

from tfx_tanas.evaluator.config import EvaluatorConfig
from tfx_tanas.evaluator.ensemble import ArchitectureEvaluator, Prediction

__all__ = ["ArchitectureEvaluator", "EvaluatorConfig", "Prediction"]
