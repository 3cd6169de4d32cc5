package engine

import "bytes"

// subscriptions is a multiset of prefixes: subscribing twice needs two
// cancels (RFC 29/37). Few subscriptions are the common case, so a slice
// scan beats a trie here.
type subscriptions struct {
	prefixes [][]byte
	counts   []int
	all      int // subscriptions to the empty prefix
}

func (s *subscriptions) add(prefix []byte) {
	if len(prefix) == 0 {
		s.all++
		return
	}
	for i, p := range s.prefixes {
		if bytes.Equal(p, prefix) {
			s.counts[i]++
			return
		}
	}
	s.prefixes = append(s.prefixes, bytes.Clone(prefix))
	s.counts = append(s.counts, 1)
}

// remove cancels one subscription to prefix; it reports false when there
// was none.
func (s *subscriptions) remove(prefix []byte) bool {
	if len(prefix) == 0 {
		if s.all == 0 {
			return false
		}
		s.all--
		return true
	}
	for i, p := range s.prefixes {
		if bytes.Equal(p, prefix) {
			s.counts[i]--
			if s.counts[i] == 0 {
				last := len(s.prefixes) - 1
				s.prefixes[i], s.counts[i] = s.prefixes[last], s.counts[last]
				s.prefixes, s.counts = s.prefixes[:last], s.counts[:last]
			}
			return true
		}
	}
	return false
}

// match reports whether a message whose first frame is topic matches any
// subscription.
func (s *subscriptions) match(topic []byte) bool {
	if s.all > 0 {
		return true
	}
	for _, p := range s.prefixes {
		if bytes.HasPrefix(topic, p) {
			return true
		}
	}
	return false
}

// each calls f once per subscription (a prefix subscribed twice is visited
// twice), to replay them on a new connection.
func (s *subscriptions) each(f func(prefix []byte)) {
	for i := 0; i < s.all; i++ {
		f(nil)
	}
	for i, p := range s.prefixes {
		for j := 0; j < s.counts[i]; j++ {
			f(p)
		}
	}
}
