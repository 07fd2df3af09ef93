// CLI entry point (written next).
