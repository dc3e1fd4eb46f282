"""Workers: claim, run, heartbeat and report tasks (the engine of ``loop``). No Textual."""
