"""The permanent adversarial suite: one module per class of attack, each driving every door
that the class can reach (CLI, REST API, console, admission webhook, operator)."""
