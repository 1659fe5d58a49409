"""The REST API: assembles each capability's router with authentication, errors and idempotency."""
