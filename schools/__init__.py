"""Schools, classes and the people in them: management, login cards and retention."""
