"""Open data: the CKAN Action API, downloads with Frictionless descriptors, and DCAT-AP 3."""
