"""ArchSearcher: pick an architecture for a task with a frozen evaluator (no candidate is trained)."""
