"""Model registry and the one loader for bundled, local-folder and hub models."""
