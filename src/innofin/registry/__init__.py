"""The registry: zones, enterprises and their annual indicators, institutions, products, users."""
