// Restricted memory (written next).
