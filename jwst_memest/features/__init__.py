"""Product features: the schema, the features of a product from its members, pointing geometry, spacekit's features."""
