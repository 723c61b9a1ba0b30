"""The workflow engine: actions, history, assignment, statutory time limits, escalation and appeals."""
