"""The optimiser: eligibility rules, the CP-SAT model, the objective policy and explanations.

Built in the matching-engine issue; solver code takes plain data (pandas frames, dataclasses)
and returns plain data, and never touches the database or the API."""
