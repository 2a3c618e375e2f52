"""Where rendered configuration goes. All I/O of rendered output lives here."""
