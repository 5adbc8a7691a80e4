"""gradserve's benchmark harness: each case runs gradserve and its baseline in one run, alternating,
each side in its own process. ``python -m bench`` runs everything (see bench/README.md)."""
