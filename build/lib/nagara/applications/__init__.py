"""Applications (cases): drafts, submission, documents, tracking, the officer inbox and search."""
