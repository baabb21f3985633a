"""The alliance service: key tasks, targets measured from every boundary, assessment."""
