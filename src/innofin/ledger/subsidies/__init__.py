"""Interest subsidies: publish, object, resolve, confirm, pay."""
