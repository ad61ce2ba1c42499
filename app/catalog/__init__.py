"""The update catalog: feature and quality updates Graph can deploy."""
