"""Teams, presence and availability, routing rules, assignment and notifications."""
