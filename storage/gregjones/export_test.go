package gregjones

import "time"

// SetIndexLimits sets the index's bound and check interval for a test and
// returns a function that restores them.
func SetIndexLimits(entries int, check time.Duration) (restore func()) {
	oldEntries, oldCheck := maxIndexEntries, indexCheckInterval
	maxIndexEntries, indexCheckInterval = entries, check
	return func() { maxIndexEntries, indexCheckInterval = oldEntries, oldCheck }
}

// IndexPartitions returns the partitions url's index lists, and whether
// the index decodes.
func (s *Storage) IndexPartitions(url string) ([]string, bool) {
	idx, ok := s.readIndex(indexPrefix+url, false)
	var partitions []string
	for _, e := range idx.entries {
		partitions = append(partitions, e.partition)
	}
	return partitions, ok
}

// IndexKey is the backend key of url's index.
func IndexKey(url string) string { return indexPrefix + url }

// EntryKey is the backend key of a storage key's value.
func EntryKey(key string) string { return keyPrefix + key }
