"""Neural network modules, each built from its config dataclass; no I/O, no tokenizers."""

from studio.models.language_model import RNNLanguageModel, State, detach_state

__all__ = ["RNNLanguageModel", "State", "detach_state"]
