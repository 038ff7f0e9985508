"""Model-agnostic training: the Trainer's loop, its exact state, schedules, log, distributed runs and evaluation."""
