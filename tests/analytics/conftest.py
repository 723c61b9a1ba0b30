from tests.applications.test_every_service import office  # noqa: F401 - the officers of every role, as a fixture here
