"""innofin — an open platform for sci-tech finance programmes."""

__version__ = "0.1.0"
