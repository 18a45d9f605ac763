"""The scenario: YAML in, a validated model out."""
