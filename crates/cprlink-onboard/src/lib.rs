//! cprlink-onboard (filled by its issue).
