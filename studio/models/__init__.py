"""Neural network modules, each built from its config dataclass; no I/O, no tokenizers."""

from studio.models.language_model import RNNLanguageModel, State, detach_state
from studio.models.piano_roll import PianoRollConfig, PianoRollModel
from studio.models.single_step import SingleStepper, StepperCache

__all__ = ["PianoRollConfig", "PianoRollModel", "RNNLanguageModel", "SingleStepper", "State", "StepperCache",
           "detach_state"]
