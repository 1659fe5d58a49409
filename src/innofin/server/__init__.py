"""The composition root: builds the application from every room's router and serves it.

Nothing below imports this package; it imports the rooms."""
