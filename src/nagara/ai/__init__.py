"""Assistance that suggests and never decides: grievance triage and duplicate detection.

Models are trained on this machine from examples a state's pack ships (``packs/<state>/ai/``)
and from officers' corrections; nothing is downloaded at run time. See ``docs/ai/``.
"""
