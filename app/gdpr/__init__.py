"""Personal data (RGPD): retention purge, right-of-access export, privacy notice."""
