package memory

// Len counts the entries held, expired or not: the sweep test's window
// into the maps.
func Len(s *Store) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions) + len(s.tokens) + len(s.dedup) + len(s.values)
}

// HeapLen counts the pending expiries.
func HeapLen(s *Store) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.expiries)
}
