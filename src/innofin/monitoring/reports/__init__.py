"""Programme reports: a report model built from the cube, the targets and the funnel, and its
pure renderers (XLSX, PDF, HTML) with their own catalogue."""
