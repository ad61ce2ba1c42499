"""Operations: long-running work (audience changes) that callers poll."""
