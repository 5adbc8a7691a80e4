"""The benchmark cases, by module: engine_cases (engine API against torch and numpy) and
service_cases (the HTTP service against torch endpoints and the bare framework)."""
