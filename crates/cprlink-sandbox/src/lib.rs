//! cprlink-sandbox (filled by its issue).
