"""What the app does, shared by the three doors (web, API, CLI). No HTTP in here."""
