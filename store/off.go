package store

import "context"

// WithoutSessions returns s with sessions switched off: LoadSession always
// returns nil, SaveSession and DeleteSession do nothing. Tokens, dedup and
// values still go to s. This is session_storage = "off": the bot keeps no
// per-user state, but the host still needs a token cache and a dedup cache.
func WithoutSessions(s Store) Store {
	return noSessions{s}
}

type noSessions struct{ Store }

func (noSessions) LoadSession(context.Context, string) ([]byte, error) { return nil, nil }
func (noSessions) SaveSession(context.Context, string, []byte) error   { return nil }
func (noSessions) DeleteSession(context.Context, string) error         { return nil }
