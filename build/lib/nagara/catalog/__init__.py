"""The service catalogue: each service's form, documents, fees, workflow and output, from the packs."""
