package bolt

import bbolt "go.etcd.io/bbolt"

// DB exposes the bbolt handle to the tests that write records behind the
// store's back or count what is left in a bucket.
func DB(s *Store) *bbolt.DB { return s.db }
