"""FastAPI apps and programs the service cases compare gradserve with (torch is imported only
by the modules that need it, in the baseline processes)."""
