"""The runtime: tasks walked through the plans the build made, one stage at a time, with events delivered."""
