package message

// Record is one element as the scanner saw it, for the fuzz oracle.
type Record = leafRecord

// Clean applies Parse's input clean-up: illegal characters and a leading
// byte-order mark removed.
func Clean(raw []byte) string {
	return cleanInput(string(raw))
}

// ScanAll scans s the way Parse does, recording every element in document
// order. refused reports an error that is deliberate policy (DOCTYPE, depth,
// non-ASCII names...) rather than malformed XML.
func ScanAll(s string) (recs []Record, err error, refused bool) {
	p := new(scanner)
	p.reset(s, true)
	if err := p.run(); err != nil {
		e, _ := err.(*Error)
		return nil, err, e != nil && e.policy
	}
	return append([]Record(nil), p.records...), nil, false
}
