"""The officer workbench and administration pages (``/officer/...``), in the ``officer`` translation area.

Pages only: every read and write goes through the domains' service functions
(applications, workflow, identity, tenancy, catalog), exactly as the API does.
"""
