"""EvaluatorTrainer: fit the evaluator network on architecture records."""
