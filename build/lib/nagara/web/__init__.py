"""The page foundation: templates with i18n, locale, formatting, CSRF in forms, HTML errors.

How to add a page: CONVENTIONS.md, "Pages".
"""
