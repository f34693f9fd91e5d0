"""Container images: references, the inventory of what ScienceBox runs, and
getting them onto the node before the pods need them (issue 11)."""
