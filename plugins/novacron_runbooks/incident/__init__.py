"""What the incident runbooks share: reading the symptoms and choosing the remedy by the index's policy."""
