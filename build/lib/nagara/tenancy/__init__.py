"""States, districts, local bodies and wards, and the packs that define them."""
