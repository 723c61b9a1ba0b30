"""Public grievances: complaints filed by citizens, carried level by level by the workflow engine."""
